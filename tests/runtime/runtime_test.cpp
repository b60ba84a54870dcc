// The public API on real threads: calls, streams, context, errors for bad input, busy
// policies, cancel, timeouts, close, describe, owners, stats, logging and shutdown.
// Every test body runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/log.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::run_with_time_limit;
using agentrt_test::Gate;
using agentrt_test::eventually;
using agentrt_test::kinds_of;
using agentrt_test::read_all;

namespace {

RuntimeConfig small_config() {
  return agentrt_test::test_config();
}

} // namespace

TEST_CASE("a call returns the handler's output with its session and call ids", "[runtime]") {
  run_with_time_limit(30s, "basic call", [] {
    Runtime rt{small_config()};
    rt.register_handler("echo", [](Turn& t) { return "echo:" + t.input(); });
    auto reply = rt.ask({.agent = "echo", .session_id = "s1", .input = "hi"});
    REQUIRE(reply.ok());
    CHECK(reply.output == "echo:hi");
    CHECK(reply.session_id == "s1");
    CHECK(reply.agent == "echo");
    CHECK(reply.call_id > 0);
    CHECK(reply.turn == 1);
  });
}

TEST_CASE("an empty session id mints a UUID v4 that is echoed everywhere", "[runtime][ids]") {
  run_with_time_limit(30s, "one-shot ids", [] {
    Runtime rt{small_config()};
    rt.register_handler("echo", [](Turn& t) { return t.session_id(); });
    auto call = rt.invoke({.agent = "echo", .input = "x"}).value();
    const std::regex uuid4{"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"};
    REQUIRE(std::regex_match(call.session_id(), uuid4));
    auto events = read_all(call);
    REQUIRE(kinds_of(events) == std::vector<EventKind>{EventKind::started, EventKind::completed});
    for (auto& e : events)
      CHECK(e.session_id == call.session_id());
    CHECK(call.reply().session_id == call.session_id());
    CHECK(call.reply().output == call.session_id()); // the handler saw the same id
    auto other = rt.ask({.agent = "echo", .input = "x"});
    CHECK(other.session_id != call.session_id());
    CHECK(other.turn == 1); // a fresh session each time
  });
}

TEST_CASE("a follow-up keeps context and a new session starts fresh", "[runtime][context]") {
  run_with_time_limit(30s, "context", [] {
    Runtime rt{small_config()};
    rt.register_handler("counter", [](Turn& t) {
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      return "n=" + std::to_string(n) + " history=" + std::to_string(t.history().size());
    });
    CHECK(rt.ask({.agent = "counter", .session_id = "a", .input = "1"}).output == "n=1 history=0");
    CHECK(rt.ask({.agent = "counter", .session_id = "a", .input = "2"}).output == "n=2 history=2");
    CHECK(rt.ask({.agent = "counter", .session_id = "b", .input = "1"}).output == "n=1 history=0");
    CHECK(rt.ask({.agent = "counter", .session_id = "a", .input = "3"}).output == "n=3 history=4");
  });
}

TEST_CASE("bad input gets a clear error and changes nothing", "[runtime][errors]") {
  run_with_time_limit(30s, "bad input", [] {
    auto cfg = small_config();
    cfg.max_input_bytes = 16;
    Runtime rt{cfg};
    rt.register_handler("echo", [](Turn& t) { return t.input(); });

    auto unknown = rt.ask({.agent = "nobody", .session_id = "s", .input = "x"});
    CHECK(unknown.error == errc::unknown_agent);
    CHECK(unknown.message == "unknown agent type 'nobody'");

    for (const std::string& bad : std::vector<std::string>{"has space", "a/b", std::string(129, 'x'), std::string("\0", 1)}) {
      auto r = rt.ask({.agent = "echo", .session_id = bad, .input = "x"});
      CHECK(r.error == errc::invalid_session_id);
      CHECK(r.message.find("is not 1-128 characters") != std::string::npos);
    }

    auto big = rt.ask({.agent = "echo", .session_id = "s", .input = std::string(17, 'x')});
    CHECK(big.error == errc::input_too_large);
    CHECK(big.message == "input is 17 bytes; the limit is 16");
    // invoke says so before there is a call: no handle, no stream.
    auto refused = rt.invoke({.agent = "echo", .session_id = "s", .input = std::string(17, 'x')});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == errc::input_too_large);
    CHECK(refused.error().code == condition::too_large);
    auto no_timeout = rt.invoke({.agent = "echo", .session_id = "s", .input = "x", .timeout = 0ms});
    REQUIRE_FALSE(no_timeout);
    CHECK(no_timeout.error().code == errc::invalid_timeout);
    CHECK(no_timeout.error().message == "the request's timeout must be positive (or unset)");

    auto stats = rt.stats();
    CHECK(stats.live_sessions == 0); // nothing was created
    CHECK(stats.activations == 0);
    CHECK(stats.calls_rejected == 8);
    CHECK(stats.turns_completed == 0);
    CHECK_FALSE(rt.describe({"echo", "s"}));

    rt.shutdown(1s);
    auto late = rt.ask({.agent = "echo", .session_id = "s", .input = "x"});
    CHECK(late.error == errc::shutting_down);
    CHECK(rt.session_for("echo", "u").error().code == errc::shutting_down);
  });
}

TEST_CASE("misconfiguration and misregistration throw at once", "[runtime][errors]") {
  run_with_time_limit(30s, "misconfiguration", [] {
    auto cfg = small_config();
    cfg.max_queue_depth = 0;
    CHECK_THROWS_WITH(Runtime{cfg}, Catch::Contains("max_queue_depth"));
    Runtime rt{small_config()};
    rt.register_handler("a", [](Turn&) { return std::string{}; });
    CHECK_THROWS_WITH(rt.register_handler("a", [](Turn&) { return std::string{}; }),
                      Catch::Contains("already registered"));
    CHECK_THROWS_AS(rt.register_handler("b", TurnHandler{}), std::invalid_argument);
    // An optional set to zero is not "the default": it is refused, naming the field.
    for (auto field : {"worker_threads", "supervisor_shards", "max_sessions"}) {
      auto zero = small_config();
      std::string f = field;
      if (f == "worker_threads")
        zero.worker_threads = 0;
      else if (f == "supervisor_shards")
        zero.supervisor_shards = 0;
      else
        zero.max_sessions = 0;
      CHECK_THROWS_WITH(Runtime{zero}, Catch::Contains(f + " must be at least 1"));
    }
    CHECK_THROWS_WITH(rt.register_handler("c", [](Turn&) { return std::string{}; },
                                          AgentOptions{.max_queue_depth = 0}),
                      Catch::Contains("max_queue_depth must be at least 1"));
    CHECK_THROWS_WITH(
      rt.register_tool("t", [](const ToolRequest&) -> ToolResult { return "x"; },
                       ToolOptions{.timeout = 0ms}),
      Catch::Contains("timeout must be positive"));
    // A store must be one of the two kinds the runtime knows.
    struct Neither final : SessionStore {
      Result<std::optional<StoredSession>> load(const SessionKey&) override {
        return std::optional<StoredSession>{};
      }
      Result<void> erase(const SessionKey&) override {
        return {};
      }
      Result<OwnerSession> owner_session(std::string_view, std::string_view,
                                         const std::string& c) override {
        return OwnerSession{c, true};
      }
      Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point,
                                              std::chrono::system_clock::time_point) override {
        return std::vector<SessionKey>{};
      }
    };
    auto odd = small_config();
    odd.store = std::make_shared<Neither>();
    CHECK_THROWS_WITH(Runtime{odd}, Catch::Contains("PassivatingStore or a DurableStore"));
  });
}

TEST_CASE("a handler that would wait on a session where it cannot is told so at once",
          "[runtime][errors]") {
  run_with_time_limit(30s, "waits from handlers", [] {
    Runtime rt{small_config()};
    auto code = [](const std::error_code& ec) {
      return agentrt_test::code_of(ec);
    };
    // Inline: waiting would hold an actor worker (its own session's, busy running it).
    rt.register_handler("inline", [&](Turn& t) {
      SessionKey self{t.agent(), t.session_id()};
      auto asked = rt.ask({.agent = t.agent(), .session_id = t.session_id(), .input = "again"});
      auto described = rt.describe(self);
      auto other = rt.describe({t.agent(), "elsewhere"});
      auto closed = rt.close(self);
      return code(asked.error) + " " + code(described.error().code) + " "
             + code(other.error().code) + " " + code(closed.error().code);
    });
    CHECK(rt.ask({.agent = "inline", .session_id = "s", .input = "x"}).output
          == "blocking_required blocking_required blocking_required blocking_required");
    // Blocking: the session actor is free while the pool runs the handler, so describe
    // works; asking the same session would queue behind this turn: refused.
    rt.register_handler(
      "blocking",
      [&rt](Turn& t) {
        auto described = rt.describe({t.agent(), t.session_id()});
        auto asked = rt.ask({.agent = t.agent(), .session_id = t.session_id(), .input = "x"});
        return std::string{described && described->running ? "running" : "?"} + " "
               + asked.message;
      },
      AgentOptions{.blocking = true});
    CHECK(rt.ask({.agent = "blocking", .session_id = "b", .input = "x"}).output
          == "running Runtime::ask from a handler of blocking/b would wait on that same "
             "session, which is running the handler: it would never end");
    // From a blocking handler, another session: fine.
    rt.register_handler(
      "peek", [&rt](Turn&) { return std::to_string(rt.describe({"blocking", "b"})->turns); },
      AgentOptions{.blocking = true});
    CHECK(rt.ask({.agent = "peek", .session_id = "p", .input = "x"}).output == "1");
  });
}

TEST_CASE("a stream carries phase, thought and chunks in order, then completed",
          "[runtime][stream]") {
  run_with_time_limit(30s, "stream", [] {
    Runtime rt{small_config()};
    rt.register_handler(
      "writer",
      [](Turn& t) {
        t.phase("drafting");
        t.thought("keep it short");
        t.emit("Hello");
        t.emit(", world");
        return std::string{"Hello, world"};
      },
      AgentOptions{.blocking = true});
    auto call = rt.invoke({.agent = "writer", .session_id = "w", .input = "greet"}).value();
    auto events = read_all(call);
    REQUIRE(kinds_of(events)
            == std::vector<EventKind>{EventKind::started, EventKind::phase, EventKind::thought,
                                      EventKind::chunk, EventKind::chunk, EventKind::completed});
    std::vector<std::string> data;
    for (std::size_t i = 0; i < events.size(); ++i) {
      CHECK(events[i].seq == i + 1);
      CHECK(events[i].call_id == call.id());
      data.push_back(events[i].data);
    }
    CHECK(data == std::vector<std::string>{"", "drafting", "keep it short", "Hello", ", world",
                                           "Hello, world"});
    CHECK(call.stream_ended());
    CHECK_FALSE(call.next_event(0ms));
  });
}

TEST_CASE("a failed turn changes nothing and a retry succeeds", "[runtime][tx]") {
  run_with_time_limit(30s, "retry", [] {
    Runtime rt{small_config()};
    int attempts = 0;
    rt.register_agent("flaky", [&](const SessionKey&) {
      struct Flaky final : Agent {
        int* attempts;
        std::string handle(Turn& t) override {
          t.state().set("seen", t.input());
          if (++*attempts == 2)
            throw std::runtime_error("upstream 503");
          return "ok " + std::to_string(t.history().size());
        }
      };
      auto a = std::make_unique<Flaky>();
      a->attempts = &attempts;
      return a;
    });
    CHECK(rt.ask({.agent = "flaky", .session_id = "s", .input = "1"}).output == "ok 0");
    auto failed = rt.ask({.agent = "flaky", .session_id = "s", .input = "2"});
    CHECK(failed.error == errc::agent_failed);
    CHECK(failed.message == "upstream 503");
    auto retry = rt.ask({.agent = "flaky", .session_id = "s", .input = "2"});
    CHECK(retry.output == "ok 2"); // the failed turn left no history
    CHECK(retry.turn == 2);
    CHECK(rt.stats().turns_failed == 1);
  });
}

TEST_CASE("busy policies on a blocking session, on real threads", "[runtime][policy]") {
  run_with_time_limit(30s, "policies", [] {
    Runtime rt{small_config()};
    Gate gate_s;
    Gate gate_t;
    rt.register_handler(
      "slow",
      [&](Turn& t) {
        if (t.input() == "hold") {
          auto& gate = t.session_id() == "s" ? gate_s : gate_t;
          gate.arrived();
          if (!gate.wait(t.stop_token()))
            return std::string{"stopped"};
        }
        return "done:" + t.input();
      },
      AgentOptions{.blocking = true, .max_queue_depth = 2});
    // Session s: a held turn, then each policy against it.
    auto hold = rt.invoke({.agent = "slow", .session_id = "s", .input = "hold"}).value();
    gate_s.wait_arrivals(1);
    auto rejected = rt.ask(
      {.agent = "slow", .session_id = "s", .input = "r", .on_busy = BusyPolicy::reject});
    CHECK(rejected.error == errc::session_busy);
    auto q1 = rt.invoke({.agent = "slow", .session_id = "s", .input = "q1"}).value();
    auto q2 = rt.invoke({.agent = "slow", .session_id = "s", .input = "q2"}).value();
    auto e1 = q1.next_event();
    auto e2 = q2.next_event();
    REQUIRE((e1 && e2));
    CHECK(e1->kind == EventKind::queued);
    CHECK(e1->queue_position == 1);
    CHECK(e2->queue_position == 2);
    // The queue (depth 2) is full; the bound holds for every policy.
    CHECK(rt.ask({.agent = "slow", .session_id = "s", .input = "o"}).error == errc::overloaded);
    CHECK(rt.ask({.agent = "slow", .session_id = "s", .input = "x", .on_busy = BusyPolicy::interrupt})
            .error
          == errc::overloaded);
    gate_s.open();
    CHECK(hold.reply().output == "done:hold");
    CHECK(q1.reply().turn == 2);
    CHECK(q2.reply().turn == 3);
    // Session t: an interrupt stops the held turn, keeps what it produced, runs first.
    auto hold_t = rt.invoke({.agent = "slow", .session_id = "t", .input = "hold"}).value();
    gate_t.wait_arrivals(1);
    auto queued = rt.invoke({.agent = "slow", .session_id = "t", .input = "q"}).value();
    queued.next_event(); // queued
    auto interrupter = rt.invoke(
      {.agent = "slow", .session_id = "t", .input = "i", .on_busy = BusyPolicy::interrupt}).value();
    CHECK(hold_t.reply().error == errc::interrupted);
    CHECK(hold_t.reply().output == "stopped");
    CHECK(interrupter.reply().output == "done:i");
    CHECK(interrupter.reply().turn == 2); // hold (kept) 1, i 2, q 3
    CHECK(queued.reply().turn == 3);
  });
}

TEST_CASE("cancel mid-stream stops the turn, frees everything, and the session stays usable",
          "[runtime][cancel]") {
  run_with_time_limit(30s, "cancel", [] {
    Runtime rt{small_config()};
    rt.register_handler(
      "streamer",
      [](Turn& t) {
        int n = 0;
        while (!t.stop_requested() && n < 100000) {
          t.emit("token " + std::to_string(++n));
          std::this_thread::sleep_for(1ms); // an LLM producing tokens
        }
        return "tokens: " + std::to_string(n);
      },
      AgentOptions{.blocking = true});
    auto call = rt.invoke({.agent = "streamer", .session_id = "s", .input = "go"}).value();
    auto e1 = call.next_event();
    auto e2 = call.next_event();
    REQUIRE(e2);
    CHECK(e2->kind == EventKind::chunk);
    CHECK(call.cancel());
    auto rest = read_all(call);
    REQUIRE_FALSE(rest.empty());
    CHECK(rest.back().kind == EventKind::cancelled);
    CHECK(rest.back().error == errc::cancelled);
    CHECK(call.reply().error == errc::cancelled);
    eventually([&] { return rt.stats().running_turns == 0; });
    auto after = rt.ask({.agent = "streamer", .session_id = "s", .input = "again",
                          .timeout = 50ms});
    // The cancelled turn left no trace: this is turn 1 again, and it is cut by its timeout.
    CHECK(after.error == errc::timeout);
    auto info = rt.describe({"streamer", "s"});
    REQUIRE(info);
    CHECK(info->turns == 0);
    CHECK(info->history_size == 0);
    eventually([&] { return rt.stats().running_turns == 0; });
    auto s = rt.stats();
    CHECK(s.queued_calls == 0);
    CHECK(s.turns_cancelled == 2);
  });
}

TEST_CASE("a call that waits past its timeout fails with timeout", "[runtime][timeout]") {
  run_with_time_limit(30s, "timeouts", [] {
    auto cfg = small_config();
    cfg.default_timeout = 100ms;
    Runtime rt{cfg};
    Gate gate;
    rt.register_handler(
      "slow",
      [&](Turn& t) {
        gate.arrived();
        gate.wait(t.stop_token());
        return std::string{"late"};
      },
      AgentOptions{.blocking = true});
    auto running = rt.invoke({.agent = "slow", .session_id = "s", .input = "a", .timeout = 10s}).value();
    gate.wait_arrivals(1);
    auto waiting = rt.invoke({.agent = "slow", .session_id = "s", .input = "b"}).value(); // default 100ms
    auto start = std::chrono::steady_clock::now();
    CHECK(waiting.reply().error == errc::timeout);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK_FALSE(running.done());
    gate.open();
    CHECK(running.reply().ok());
  });
}

TEST_CASE("close ends a session and the next call starts afresh", "[runtime][close]") {
  run_with_time_limit(30s, "close", [] {
    Runtime rt{small_config()};
    rt.register_handler("echo", [](Turn& t) { return std::to_string(t.number()); });
    rt.ask({.agent = "echo", .session_id = "s", .input = "1"});
    rt.ask({.agent = "echo", .session_id = "s", .input = "2"});
    CHECK(rt.describe({"echo", "s"})->turns == 2);
    CHECK(rt.close({"echo", "s"}).value());
    CHECK_FALSE(rt.close({"echo", "s"}).value());
    CHECK_FALSE(rt.describe({"echo", "s"}));
    CHECK(rt.ask({.agent = "echo", .session_id = "s", .input = "3"}).output == "1");
    eventually([&] { return rt.stats().live_sessions == 1; });
    CHECK(rt.stats().activations == 2);
  });
}

TEST_CASE("describe reports a live session", "[runtime][describe]") {
  run_with_time_limit(30s, "describe", [] {
    Runtime rt{small_config()};
    rt.register_handler("echo", [](Turn& t) { return t.input(); });
    auto before = std::chrono::system_clock::now();
    rt.ask({.agent = "echo", .session_id = "s", .input = "a"});
    rt.ask({.agent = "echo", .session_id = "s", .input = "b"});
    auto info = rt.describe({"echo", "s"});
    REQUIRE(info);
    CHECK(info->key == SessionKey{"echo", "s"});
    CHECK(info->turns == 2);
    CHECK(info->history_size == 4);
    CHECK(info->queue_depth == 0);
    CHECK_FALSE(info->running);
    CHECK(info->created >= before - 1s);
    CHECK(info->last_activity >= info->created);
    CHECK(info->last_activity <= std::chrono::system_clock::now() + 1s);
  });
}

TEST_CASE("session_for gives one session per owner, atomically", "[runtime][owner]") {
  run_with_time_limit(30s, "owners", [] {
    Runtime rt{small_config()};
    rt.register_handler("chat", [](Turn& t) { return std::to_string(t.number()); });
    std::vector<std::string> ids(16);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < ids.size(); ++i)
      threads.emplace_back([&, i] { ids[i] = rt.session_for("chat", "alice@example.com")->session_id; });
    for (auto& t : threads)
      t.join();
    for (auto& id : ids)
      CHECK(id == ids[0]);
    CHECK(ids[0].size() == 36);
    auto bob = rt.session_for("chat", "bob");
    CHECK(bob->created);
    CHECK(bob->session_id != ids[0]);
    CHECK_FALSE(rt.session_for("chat", "bob")->created);
    CHECK(rt.session_for("chat", "").error().code == errc::invalid_owner);
    CHECK(rt.session_for("chat", std::string(257, 'x')).error().code == errc::invalid_owner);
    CHECK(rt.session_for("nobody", "bob").error().code == errc::unknown_agent);
    CHECK(rt.ask({.agent = "chat", .session_id = ids[0], .input = "x"}).output == "1");
    CHECK(rt.ask({.agent = "chat", .session_id = ids[0], .input = "y"}).output == "2");
    CHECK(rt.close({"chat", ids[0]}).value());
    auto fresh = rt.session_for("chat", "alice@example.com");
    CHECK(fresh->created);
    CHECK(fresh->session_id != ids[0]);
  });
}

TEST_CASE("an idle session expires and the next call recreates it with its context",
          "[runtime][expiry]") {
  run_with_time_limit(30s, "expiry", [] {
    auto cfg = small_config();
    cfg.idle_timeout = 100ms;
    cfg.expiry_interval = 10ms;
    Runtime rt{cfg};
    rt.register_handler("echo", [](Turn& t) { return std::to_string(t.number()); });
    CHECK(rt.ask({.agent = "echo", .session_id = "s", .input = "1"}).output == "1");
    // The expiration is counted before the actor is gone: wait for both.
    eventually([&] {
      auto st = rt.stats();
      return st.expirations == 1 && st.live_sessions == 0;
    });
    CHECK_FALSE(rt.describe({"echo", "s"}));
    // Turn 2: the context came back from the store.
    CHECK(rt.ask({.agent = "echo", .session_id = "s", .input = "2"}).output == "2");
    CHECK(rt.stats().activations == 2);
  });
}

TEST_CASE("every log line about a session carries [session/call]", "[runtime][log]") {
  run_with_time_limit(30s, "logging", [] {
    auto out = std::make_shared<std::ostringstream>();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
    sink->set_pattern("%v");
    auto cfg = small_config();
    cfg.logger = std::make_shared<spdlog::logger>("test", sink);
    cfg.logger->set_level(spdlog::level::debug);
    {
      Runtime rt{cfg};
      rt.register_handler("echo", [](Turn& t) -> std::string {
        if (t.input() == "boom")
          throw std::runtime_error("kaput");
        return t.input();
      });
      auto ok = rt.ask({.agent = "echo", .session_id = "s1", .input = "x"});
      auto bad = rt.ask({.agent = "echo", .session_id = "s1", .input = "boom"});
      std::istringstream lines{out->str()};
      std::string line;
      int about_calls = 0;
      const std::regex tagged{R"(^\[[^/\]]+/[^\]]+\] .*)"};
      while (std::getline(lines, line)) {
        CHECK(std::regex_match(line, tagged));
        if (line.rfind("[s1/" + std::to_string(ok.call_id) + "]", 0) == 0
            || line.rfind("[s1/" + std::to_string(bad.call_id) + "]", 0) == 0)
          ++about_calls;
      }
      CHECK(about_calls == 2); // one line per turn: committed, failed
      CHECK(out->str().find("[s1/" + std::to_string(bad.call_id) + "] turn 2 failed: kaput")
            != std::string::npos);
    }
  });
}

TEST_CASE("on_done runs once with the outcome, on whichever side finishes last",
          "[runtime][async]") {
  run_with_time_limit(30s, "on_done", [] {
    Runtime rt{small_config()};
    Gate gate;
    rt.register_handler(
      "held",
      [&](Turn& t) {
        gate.wait(t.stop_token());
        return t.input();
      },
      AgentOptions{.blocking = true});
    rt.register_handler("echo", [](Turn& t) { return t.input(); });
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> outputs;
    std::vector<std::thread::id> threads;
    auto record = [&](const Reply& r) {
      std::lock_guard g{mu};
      outputs.push_back(r.output);
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
    // Registered while the turn is held: runs on the thread that completes the call.
    auto held = rt.invoke({.agent = "held", .session_id = "h", .input = "held"}).value();
    held.on_done(record);
    gate.open();
    // Registered after completion: runs at once, on this thread.
    auto done = rt.invoke({.agent = "echo", .session_id = "e", .input = "done"}).value();
    done.wait_for(10s);
    done.on_done(record);
    std::unique_lock l{mu};
    cv.wait(l, [&] { return outputs.size() == 2; });
    std::sort(outputs.begin(), outputs.end());
    CHECK(outputs == std::vector<std::string>{"done", "held"});
    CHECK(std::count(threads.begin(), threads.end(), std::this_thread::get_id()) == 1);
  });
}


TEST_CASE("shutdown lets running turns finish within the drain and fails the rest",
          "[runtime][shutdown]") {
  run_with_time_limit(30s, "shutdown drain", [] {
    Gate gate;
    auto cfg = small_config();
    // The turn is let go exactly when its session has begun draining (its queue already
    // failed): it finishes during the drain.
    cfg.logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<agentrt_test::HookSink>([&gate](const std::string& line) {
        if (line.find("] draining:") != std::string::npos)
          gate.open();
      }));
    cfg.logger->set_level(spdlog::level::debug);
    Runtime rt{cfg};
    rt.register_handler(
      "slow",
      [&](Turn& t) {
        gate.arrived();
        gate.wait(t.stop_token());
        return std::string{"finished"};
      },
      AgentOptions{.blocking = true});
    auto running = rt.invoke({.agent = "slow", .session_id = "s", .input = "a"}).value();
    gate.wait_arrivals(1);
    auto queued = rt.invoke({.agent = "slow", .session_id = "s", .input = "b"}).value();
    queued.next_event(); // queued
    rt.shutdown(5s);
    CHECK(running.reply().ok());
    CHECK(running.reply().output == "finished");
    CHECK(queued.reply().error == errc::shutting_down);
    CHECK(rt.stats().live_sessions == 0);
    CHECK(rt.stats().turns_completed == 1);
  });
}

TEST_CASE("the destructor returns within the drain when a handler ignores its stop token",
          "[runtime][shutdown]") {
  run_with_time_limit(30s, "shutdown hang", [] {
    struct Late {
      std::atomic<bool> release{false};
      std::atomic<bool> finished{false};
      std::error_code ask_error;
      bool tool_ok = false;
    };
    auto late = std::make_shared<Late>();
    Call call;
    auto start = std::chrono::steady_clock::now();
    {
      auto cfg = small_config();
      cfg.shutdown_drain = 200ms;
      Runtime rt{cfg};
      rt.register_tool("echo", [](const ToolRequest& r) -> ToolResult { return r.arguments; });
      rt.register_handler("other", [](Turn&) { return std::string{"o"}; });
      rt.register_handler(
        "stubborn",
        [late](Turn& t) {
          while (!late->release.load()) // ignores its stop token
            std::this_thread::sleep_for(1ms);
          // The runtime is gone by now: tools and sub-agents answer, nothing crashes.
          late->tool_ok = t.call_tool("echo", "x").has_value();
          late->ask_error = t.ask("other", "x").error;
          late->finished.store(true);
          return std::string{"never seen"};
        },
        AgentOptions{.blocking = true});
      call = rt.invoke({.agent = "stubborn", .session_id = "s", .input = "x"}).value();
      call.next_event(); // started
    }
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(call.reply().error == errc::shutting_down);
    CHECK_FALSE(call.cancel()); // a Call outlives its Runtime and stays readable
    late->release.store(true);  // let the abandoned handler go on
    while (!late->finished.load())
      std::this_thread::sleep_for(1ms);
    CHECK(late->tool_ok);
    CHECK(late->ask_error == errc::shutting_down);
  });
}

TEST_CASE("a completion callback that throws does not harm the session", "[runtime][async]") {
  run_with_time_limit(30s, "throwing callback", [] {
    Runtime rt{small_config()};
    rt.register_handler("echo", [](Turn& t) { return std::to_string(t.number()); });
    auto call = rt.invoke({.agent = "echo", .session_id = "s", .input = "x"}).value();
    call.on_done([](const Reply&) { throw std::runtime_error("host bug"); });
    call.wait_for(10s);
    CHECK(rt.ask({.agent = "echo", .session_id = "s", .input = "y"}).output == "2");
  });
}

TEST_CASE("a runtime can be destroyed on another thread while its callers live on",
          "[runtime][shutdown]") {
  // CAF 0.17 keeps a thread-local reference from every thread that spawned an actor and
  // its actor_system destructor waits for it: this once hung the HTTP example on SIGTERM.
  run_with_time_limit(30s, "destroy elsewhere", [] {
    auto rt = std::make_unique<Runtime>(small_config());
    rt->register_handler("echo", [](Turn& t) { return t.input(); });
    std::promise<void> called;
    std::promise<void> release;
    std::thread caller{[&] {
      rt->ask({.agent = "echo", .session_id = "s1", .input = "x"}); // spawns a session
      called.set_value();
      release.get_future().wait(); // stays alive past the destruction
    }};
    called.get_future().wait();
    std::thread destroyer{[&] { rt.reset(); }};
    destroyer.join();
    CHECK_FALSE(rt);
    release.set_value();
    caller.join();
  });
}

TEST_CASE("pushed events reach the call's own callback once each and in order", "[runtime][push]") {
  run_with_time_limit(30s, "push events", [] {
    Runtime rt{small_config()};
    rt.register_handler(
      "chatty",
      [](Turn& t) {
        for (int i = 0; i < 200; ++i)
          t.emit(std::to_string(i)); // from a pool thread
        return std::string{"done"};
      },
      AgentOptions{.blocking = true});
    struct Seen {
      std::mutex mu;
      std::vector<Event> events;
      std::atomic<int> inside{0};
      std::atomic<int> overlaps{0};
    };
    constexpr int n = 20;
    std::vector<std::shared_ptr<Seen>> seen;
    std::vector<Call> calls;
    for (int i = 0; i < n; ++i) {
      auto s = std::make_shared<Seen>();
      seen.push_back(s);
      calls.push_back(rt.invoke({.agent = "chatty",
                                 .session_id = "s" + std::to_string(i % 4),
                                 .input = "x",
                                 .on_event = [s](const Event& e) {
                                   if (s->inside.fetch_add(1) > 0)
                                     s->overlaps.fetch_add(1);
                                   {
                                     std::lock_guard g{s->mu};
                                     s->events.push_back(e);
                                   }
                                   s->inside.fetch_sub(1);
                                   if (e.seq == 3)
                                     throw std::runtime_error("a consumer's bug"); // ignored
                                 }})
                        .value());
    }
    // The last callback may still be running when the outcome is there: wait for the stream.
    for (int i = 0; i < n; ++i) {
      CHECK(calls[i].reply().ok());
      eventually([&] { return calls[i].stream_ended(); });
      CHECK_FALSE(calls[i].next_event(0ms)); // pushed, not pulled
      std::lock_guard g{seen[i]->mu};
      auto& events = seen[i]->events;
      REQUIRE(events.size() >= 202); // queued?, started, 200 chunks, completed
      for (std::size_t k = 0; k < events.size(); ++k) {
        CHECK(events[k].seq == k + 1);
        CHECK(events[k].call_id == calls[i].id());
      }
      CHECK(events.back().kind == EventKind::completed);
      CHECK(seen[i]->overlaps.load() == 0);
    }
  });
}

TEST_CASE("a push callback that holds its own call is released after the terminal event",
          "[runtime][push]") {
  // A host often keeps the Call in the object its callback captures: call -> callback ->
  // object -> call. The runtime lets go of the callback once the stream has ended, so the
  // cycle does not outlive the call.
  run_with_time_limit(30s, "push cycle", [] {
    Runtime rt{small_config()};
    rt.register_handler("echo", [](Turn& t) { return t.input(); });
    struct Holder {
      std::optional<Call> call;
      std::atomic<int> events{0};
    };
    std::vector<std::weak_ptr<Holder>> watched;
    for (int i = 0; i < 10; ++i) {
      auto holder = std::make_shared<Holder>();
      holder->call = rt.invoke({.agent = "echo",
                                .session_id = "s" + std::to_string(i),
                                .input = "x",
                                .on_event = [holder](const Event&) { holder->events.fetch_add(1); }})
                       .value();
      watched.push_back(holder);
    } // only the cycle holds each Holder now
    // One more that is cancelled while it runs: the cancel's terminal event releases it too.
    rt.register_handler(
      "waits",
      [](Turn& t) {
        std::mutex mu;
        std::condition_variable_any cv;
        std::unique_lock lock{mu};
        cv.wait(lock, t.stop_token(), [] { return false; });
        return std::string{"stopped"};
      },
      AgentOptions{.blocking = true});
    {
      auto holder = std::make_shared<Holder>();
      holder->call = rt.invoke({.agent = "waits",
                                .session_id = "w",
                                .input = "x",
                                .on_event = [holder](const Event&) { holder->events.fetch_add(1); }})
                       .value();
      watched.push_back(holder);
    }
    eventually([&] { return rt.stats().running_turns == 1; });
    watched.back().lock()->call->cancel();
    for (auto& w : watched)
      eventually([&] { return w.expired(); });
    CHECK(rt.stats().turns_completed == 10);
    CHECK(rt.stats().turns_cancelled == 1);
  });
}

TEST_CASE("a call set to cancel when dropped is cancelled by its handle's end", "[runtime][cancel]") {
  run_with_time_limit(30s, "cancel on drop", [] {
    Runtime rt{small_config()};
    Gate gate;
    std::atomic<int> stopped{0};
    rt.register_handler(
      "slow",
      [&](Turn& t) {
        gate.arrived();
        if (!gate.wait(t.stop_token()))
          stopped.fetch_add(1);
        return std::string{"ran"};
      },
      AgentOptions{.blocking = true});
    {
      auto dropped = rt.invoke({.agent = "slow", .session_id = "a", .input = "x", .cancel_on_drop = true}).value();
      gate.wait_arrivals(1);
    } // dropped here: cancelled, its turn stopped
    eventually([&] { return stopped.load() == 1; });
    CHECK(rt.stats().turns_cancelled == 1);
    // Assigning over a handle drops the call it held too.
    auto held = rt.invoke({.agent = "slow", .session_id = "b", .input = "x", .cancel_on_drop = true}).value();
    gate.wait_arrivals(2);
    held = rt.invoke({.agent = "slow", .session_id = "c", .input = "x"}).value();
    eventually([&] { return stopped.load() == 2; });
    // By default a dropped call runs on.
    {
      auto kept = rt.invoke({.agent = "slow", .session_id = "d", .input = "x"}).value();
      gate.wait_arrivals(4);
    }
    gate.open();
    CHECK(held.reply().output == "ran");
    eventually([&] { return rt.stats().turns_completed == 2; });
    CHECK(stopped.load() == 2);
  });
}
