// Tools and sub-agents on real threads: the session id travels with every tool call and
// sub-agent turn, tool results become history, chains that loop fail fast, fan-out runs in
// parallel, cancellation propagates, and concurrent conversations stay apart.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::run_with_time_limit;
using agentrt_test::eventually;
using agentrt_test::read_all;

namespace {

RuntimeConfig config() {
  return agentrt_test::test_config();
}

const AgentOptions blocking{.blocking = true};

/// Sessions seen by tools and sub-agents, for checking who served whom.
struct Seen {
  std::mutex mu;
  std::multiset<std::string> entries;
  void add(std::string s) {
    std::lock_guard g{mu};
    entries.insert(std::move(s));
  }
};

} // namespace

TEST_CASE("a tool's result is in the history of the session's next turn", "[tools]") {
  run_with_time_limit(30s, "tool history", [] {
    Runtime rt{config()};
    Seen seen;
    rt.register_tool("flights", [&](const ToolRequest& r) -> ToolResult {
      seen.add(r.session_id + "/" + std::to_string(r.call_id));
      return "[{\"to\":\"" + r.arguments + "\",\"eur\":420}]";
    });
    rt.register_handler("planner", [](Turn& t) -> std::string {
      if (t.input() == "show me cheaper flights") {
        for (auto i = t.history().rbegin(); i != t.history().rend(); ++i)
          if (i->role == Role::tool_result && i->name == "flights")
            return "earlier: " + i->content;
        return "no earlier search";
      }
      auto r = t.call_tool("flights", t.input(), "search");
      return r ? "found " + *r : "error " + r.error().message;
    });
    auto first = rt.invoke({.agent = "planner", .session_id = "trip-1", .input = "Rome"}).value();
    auto events = read_all(first);
    REQUIRE(events.size() == 4);
    CHECK(events[1].kind == EventKind::tool_call);
    CHECK(events[1].tool == "flights");
    CHECK(events[1].data == "Rome");
    CHECK(events[2].kind == EventKind::tool_result);
    CHECK(events[2].data == "[{\"to\":\"Rome\",\"eur\":420}]");
    CHECK(first.reply().output == "found [{\"to\":\"Rome\",\"eur\":420}]");
    auto follow = rt.ask({.agent = "planner", .session_id = "trip-1", .input = "show me cheaper flights"});
    CHECK(follow.output == "earlier: [{\"to\":\"Rome\",\"eur\":420}]");
    // Another session does not see it.
    auto other = rt.ask({.agent = "planner", .session_id = "trip-2", .input = "show me cheaper flights"});
    CHECK(other.output == "no earlier search");
    CHECK(seen.entries == std::multiset<std::string>{"trip-1/" + std::to_string(first.id())});
    auto info = rt.describe({"planner", "trip-1"});
    CHECK(info->history_size == 6); // user, tool_call, tool_result, assistant, user, assistant
  });
}

TEST_CASE("a tool gets its turn's number and request id: a key that a retry repeats",
          "[tools]") {
  run_with_time_limit(30s, "tool key", [] {
    Runtime rt{config()};
    Seen seen;
    rt.register_tool("book", [&](const ToolRequest& r) -> ToolResult {
      seen.add(r.session_id + "/" + std::to_string(r.turn) + "/" + r.request_id);
      if (r.arguments == "fail")
        return Error{errc::tool_failed, "the booking system is down"};
      return std::string{"booked"};
    });
    rt.register_handler("booker", [](Turn& t) -> std::string {
      auto r = t.call_tool("book", t.input());
      if (!r)
        throw std::runtime_error(r.error().message);
      return *r;
    });
    CHECK(rt.ask({.agent = "booker", .session_id = "b1", .input = "ok", .request_id = "q1"}).turn == 1);
    // Turn 2 fails; its retry with the same request id runs as turn 2 again.
    CHECK(rt.ask({.agent = "booker", .session_id = "b1", .input = "fail", .request_id = "q2"}).error
          == errc::agent_failed);
    CHECK(rt.ask({.agent = "booker", .session_id = "b1", .input = "fail", .request_id = "q2"}).error
          == errc::agent_failed);
    CHECK(rt.ask({.agent = "booker", .session_id = "b1", .input = "ok"}).turn == 2);
    CHECK(seen.entries
          == std::multiset<std::string>{"b1/1/q1", "b1/2/q2", "b1/2/q2", "b1/2/"});
  });
}

TEST_CASE("tool failures come back to the agent as errors, not crashes", "[tools]") {
  run_with_time_limit(30s, "tool errors", [] {
    Runtime rt{config()};
    rt.register_tool("thrower", [](const ToolRequest&) -> ToolResult {
      throw std::runtime_error("disk on fire");
    });
    rt.register_tool("refuser", [](const ToolRequest&) -> ToolResult {
      return Error{errc::tool_failed, "quota exceeded"};
    });
    // A tool's own error code (any category) reaches the agent unchanged.
    rt.register_tool("denier", [](const ToolRequest&) -> ToolResult {
      return Error{std::make_error_code(std::errc::permission_denied), "no access to the file"};
    });
    rt.register_tool(
      "sleeper",
      [](const ToolRequest& r) {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock l{m};
        cv.wait_for(l, r.stop, 10s, [] { return false; }); // until stopped
        return ToolResult{"late"};
      },
      ToolOptions{.blocking = true, .timeout = 100ms});
    rt.register_handler(
      "agent",
      [](Turn& t) {
        auto r = t.call_tool(t.input(), "x");
        if (r)
          return "ok: " + *r;
        auto& code = r.error().code;
        auto name = code.category() == error_category()
                      ? agentrt_test::code_of(code)
                      : std::string{code.category().name()} + ":" + std::to_string(code.value());
        return name + ": " + r.error().message + " [" + t.session_id() + "]";
      },
      blocking);
    rt.register_handler("inline", [](Turn& t) {
      auto r = t.call_tool("sleeper", "x");
      return agentrt_test::code_of(r.error().code);
    });
    auto ask = [&](const std::string& tool) {
      return rt.ask({.agent = "agent", .session_id = "s", .input = tool}).output;
    };
    CHECK(ask("nope") == "unknown_tool: unknown tool 'nope' [s]");
    CHECK(ask("thrower") == "tool_failed: the tool threw: disk on fire [s]");
    CHECK(ask("refuser") == "tool_failed: quota exceeded [s]");
    CHECK(ask("denier") == "generic:" + std::to_string(EACCES) + ": no access to the file [s]");
    auto start = std::chrono::steady_clock::now();
    CHECK(ask("sleeper") == "timeout: tool 'sleeper' did not finish before its deadline [s]");
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(rt.ask({.agent = "inline", .session_id = "s", .input = "x"}).output
          == "blocking_required");
    // The failures are in the history too, so the next turn can see what went wrong.
    auto info = rt.describe({"agent", "s"});
    CHECK(info->history_size == 20);
  });
}

TEST_CASE("every tool and sub-agent sees the caller's session id", "[subagents]") {
  run_with_time_limit(30s, "session ids", [] {
    Runtime rt{config()};
    Seen seen;
    rt.register_tool("weather", [&](const ToolRequest& r) -> ToolResult {
      seen.add("weather:" + r.session_id);
      return "sunny";
    });
    for (auto name : {"flight", "hotel"})
      rt.register_handler(
        name,
        [&seen, name](Turn& t) {
          seen.add(std::string{name} + ":" + t.session_id());
          (void)t.call_tool("weather", "Rome"); // only its history entry matters here
          return std::string{name} + " ok";
        },
        blocking);
    rt.register_handler(
      "planner",
      [&](Turn& t) {
        seen.add("planner:" + t.session_id());
        auto replies = t.ask_all({{"flight", "Rome", {}}, {"hotel", "Rome", {}}});
        std::string out;
        for (auto& r : replies)
          out += r.output + "(" + r.session_id + ") ";
        return out;
      },
      blocking);
    auto reply = rt.ask({.agent = "planner", .session_id = "conv-7", .input = "trip"});
    CHECK(reply.output == "flight ok(conv-7) hotel ok(conv-7) ");
    CHECK(seen.entries
          == std::multiset<std::string>{"planner:conv-7", "flight:conv-7", "hotel:conv-7",
                                        "weather:conv-7", "weather:conv-7"});
    // The sub-agents ran in their own sessions of the same conversation.
    CHECK(rt.describe({"flight", "conv-7"})->turns == 1);
    CHECK(rt.describe({"hotel", "conv-7"})->turns == 1);
  });
}

TEST_CASE("a chain that comes back to a waiting session fails at once, naming the chain",
          "[subagents][deadlock]") {
  run_with_time_limit(30s, "reentrancy", [] {
    Runtime rt{config()};
    rt.register_handler(
      "a",
      [](Turn& t) {
        if (t.input() == "self")
          return t.ask("a", "x").message;
        auto r = t.ask("b", "call a");
        return r.ok() ? r.output : r.message;
      },
      blocking);
    rt.register_handler(
      "b",
      [](Turn& t) {
        auto r = t.ask("a", "again");
        return agentrt_test::code_of(r.error) + " | " + r.message;
      },
      blocking);
    rt.register_handler("c", [](Turn&) { return std::string{"c fine"}; }, blocking);
    auto start = std::chrono::steady_clock::now();
    auto r = rt.ask({.agent = "a", .session_id = "s1", .input = "go"});
    CHECK(r.output
          == "reentrant_call | reentrant call a/s1 -> b/s1 -> a/s1: a/s1 is already waiting in "
             "this chain");
    auto self = rt.ask({.agent = "a", .session_id = "s2", .input = "self"});
    CHECK(self.output == "reentrant call a/s2 -> a/s2: a/s2 is already waiting in this chain");
    CHECK(std::chrono::steady_clock::now() - start < 2s); // no timeout was needed
    // Sessions not in the chain kept working, and the chain's sessions too.
    CHECK(rt.ask({.agent = "c", .session_id = "s1", .input = "x"}).output == "c fine");
    CHECK(rt.ask({.agent = "b", .session_id = "other", .input = "x"}).ok());
  });
}

TEST_CASE("ask_all runs sub-agents in parallel: wall time is the slowest, not the sum",
          "[subagents]") {
  run_with_time_limit(30s, "fan-out", [] {
    Runtime rt{config()};
    // A rendezvous the three sub-agents can only pass together: run one after the other,
    // each would wait alone until its 10 s bound and report it. No timing assertion needed.
    struct Rendezvous {
      std::mutex mu;
      std::condition_variable cv;
      int arrived = 0;
      bool meet() {
        std::unique_lock l{mu};
        ++arrived;
        cv.notify_all();
        return cv.wait_for(l, 10s, [&] { return arrived == 3; });
      }
    };
    auto rendezvous = std::make_shared<Rendezvous>();
    for (auto [name, ms] : {std::pair{"flight", 300}, {"hotel", 250}, {"visa", 200}})
      rt.register_handler(
        name,
        [name = std::string{name}, ms = ms, rendezvous](Turn& t) {
          t.phase("searching");
          bool together = rendezvous->meet();
          std::this_thread::sleep_for(std::chrono::milliseconds(ms)); // a remote API
          return name + (together ? " with the others" : " alone") + " for " + t.input();
        },
        blocking);
    rt.register_handler(
      "planner",
      [](Turn& t) {
        auto r = t.ask_all({{"flight", t.input(), {}}, {"hotel", t.input(), {}}, {"visa", t.input(), {}}});
        return r[0].output + ", " + r[1].output + ", " + r[2].output;
      },
      blocking);
    auto start = std::chrono::steady_clock::now();
    auto call = rt.invoke({.agent = "planner", .session_id = "s", .input = "Rome"}).value();
    auto events = read_all(call);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
    CHECK(call.reply().output
          == "flight with the others for Rome, hotel with the others for Rome, visa with the "
             "others for Rome");
    std::printf("fan-out of 300/250/200 ms sub-agents: %lld ms (the sum would be 750)\n",
                static_cast<long long>(ms));
    CHECK(ms >= 300); // it did wait for the slowest
    // Sub-agent body events reached the parent's stream, tagged with their names; their
    // own started events did not (the parent's stream has one started, its own).
    std::multiset<std::string> started;
    std::multiset<std::string> phases;
    for (auto& e : events) {
      CHECK(e.session_id == "s");
      CHECK(e.call_id == call.id());
      if (e.kind == EventKind::started)
        started.insert(e.agent);
      if (e.kind == EventKind::phase)
        phases.insert(e.agent + ":" + e.data);
    }
    CHECK(started == std::multiset<std::string>{"planner"});
    CHECK(phases
          == std::multiset<std::string>{"flight:searching", "hotel:searching", "visa:searching"});
    CHECK(events.back().kind == EventKind::completed);
    CHECK(events.back().agent == "planner");
  });
}

TEST_CASE("cancelling the parent cancels its sub-turns", "[subagents][cancel]") {
  run_with_time_limit(30s, "cancel propagation", [] {
    Runtime rt{config()};
    std::atomic<int> stopped{0};
    std::atomic<int> started{0};
    agentrt_test::Gate first_worker;
    rt.register_handler(
      "worker",
      [&](Turn& t) {
        started.fetch_add(1);
        first_worker.arrived();
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock l{m};
        cv.wait_for(l, t.stop_token(), 20s, [] { return false; });
        if (t.stop_requested())
          stopped.fetch_add(1);
        return std::string{"done"};
      },
      blocking);
    rt.register_handler(
      "boss",
      [](Turn& t) {
        auto r = t.ask_all({{"worker", "1", {}}, {"worker", "2", {}}});
        return agentrt_test::code_of(r[0].error);
      },
      blocking);
    auto call = rt.invoke({.agent = "boss", .session_id = "s", .input = "go"}).value();
    first_worker.wait_arrivals(1); // a sub-turn is running
    CHECK(call.cancel());
    CHECK(call.reply().error == errc::cancelled);
    while (rt.stats().running_turns > 0)
      std::this_thread::sleep_for(1ms);
    // Every sub-turn that started saw its stop token (the second may or may not have started
    // in the moment between the two cancels).
    CHECK(stopped.load() == started.load());
    CHECK(rt.describe({"worker", "s"})->turns == 0); // nothing was committed
    CHECK(rt.describe({"boss", "s"})->turns == 0);
    CHECK(rt.stats().queued_calls == 0);
  });
}

TEST_CASE("a parent's timeout bounds its sub-calls", "[subagents][timeout]") {
  run_with_time_limit(30s, "deadline inheritance", [] {
    Runtime rt{config()};
    rt.register_handler(
      "slow",
      [](Turn& t) {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock l{m};
        cv.wait_for(l, t.stop_token(), 20s, [] { return false; });
        return std::string{"late"};
      },
      blocking);
    rt.register_handler("boss", [](Turn& t) { return t.ask("slow", "x").message; }, blocking);
    auto start = std::chrono::steady_clock::now();
    auto r = rt.ask({.agent = "boss", .session_id = "s", .input = "go", .timeout = 200ms});
    CHECK(r.error == errc::timeout);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
  });
}

TEST_CASE("ask from a non-blocking agent is refused clearly", "[subagents]") {
  run_with_time_limit(30s, "blocking required", [] {
    Runtime rt{config()};
    rt.register_handler("helper", [](Turn&) { return std::string{"h"}; });
    rt.register_handler("quick", [](Turn& t) {
      auto r = t.ask("helper", "x");
      return agentrt_test::code_of(r.error) + ": " + r.message;
    });
    CHECK(rt.ask({.agent = "quick", .session_id = "s", .input = "x"}).output
          == "blocking_required: Turn::ask needs the calling agent 'quick' to be registered "
             "with AgentOptions::blocking = true, or to be a coroutine agent (AsyncTurn::ask)");
  });
}

TEST_CASE("orchestrators filling the pool do not starve their sub-agents", "[subagents]") {
  run_with_time_limit(30s, "pool starvation", [] {
    auto cfg = config();
    cfg.blocking_threads = 2;
    Runtime rt{cfg};
    rt.register_handler(
      "leaf",
      [](Turn& t) {
        std::this_thread::sleep_for(20ms);
        return "leaf " + t.input();
      },
      blocking);
    rt.register_handler(
      "root",
      [](Turn& t) {
        auto r = t.ask_all({{"leaf", "a", {}}, {"leaf", "b", {}}});
        return r[0].output + "+" + r[1].output;
      },
      blocking);
    std::vector<Call> calls;
    for (int i = 0; i < 6; ++i) // 6 roots on a pool of 2
      calls.push_back(rt.invoke({.agent = "root", .session_id = "s" + std::to_string(i), .input = "x"}).value());
    for (auto& c : calls)
      CHECK(c.reply().output == "leaf a+leaf b");
  });
}

TEST_CASE("10 concurrent orchestrated conversations keep their tool results apart",
          "[subagents][isolation]") {
  run_with_time_limit(60s, "isolation", [] {
    Runtime rt{config()};
    rt.register_tool(
      "quote",
      [](const ToolRequest& r) -> ToolResult {
        std::this_thread::sleep_for(5ms);
        return "quote-for-" + r.session_id;
      },
      ToolOptions{.blocking = true});
    rt.register_handler(
      "flight",
      [](Turn& t) { return t.call_tool("quote", "flight").value(); },
      blocking);
    rt.register_handler(
      "planner",
      [](Turn& t) {
        auto own = t.call_tool("quote", "plan").value();
        auto sub = t.ask("flight", "x").output;
        return own + "|" + sub;
      },
      blocking);
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int i = 0; i < 10; ++i)
      threads.emplace_back([&, i] {
        auto sid = "conv-" + std::to_string(i);
        for (int k = 0; k < 5; ++k) {
          auto r = rt.ask({.agent = "planner", .session_id = sid, .input = "go"});
          if (r.output != "quote-for-" + sid + "|quote-for-" + sid)
            wrong.fetch_add(1);
        }
      });
    for (auto& t : threads)
      t.join();
    CHECK(wrong.load() == 0);
    for (int i = 0; i < 10; ++i) {
      auto sid = "conv-" + std::to_string(i);
      CHECK(rt.describe({"planner", sid})->history_size == 5 * 4);
      CHECK(rt.describe({"flight", sid})->history_size == 5 * 4);
    }
  });
}

TEST_CASE("a one-shot call's sub-agents keep their context for the whole turn",
          "[subagents][one-shot]") {
  run_with_time_limit(30s, "one-shot sub-sessions", [] {
    Runtime rt{config()};
    rt.register_handler("hotel", [](Turn& t) { return "hotel turn " + std::to_string(t.number()); });
    rt.register_handler(
      "planner",
      [](Turn& t) {
        auto first = t.ask("hotel", "a").output;
        auto second = t.ask("hotel", "b").output;
        return first + ", " + second;
      },
      blocking);
    auto r = rt.ask({.agent = "planner", .input = "Rome"}); // one-shot
    CHECK(r.output == "hotel turn 1, hotel turn 2");
    // The one-shot planner session is gone; its hotel session lives until it is idle.
    eventually([&] { return rt.stats().live_sessions == 1; });
    CHECK(rt.describe({"hotel", r.session_id})->turns == 2);
  });
}
