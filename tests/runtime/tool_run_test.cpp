// Runtime::run_tool on real threads: a host runs a registered tool outside any turn (a gRPC
// ExecuteTool, a bridge). What the tool sees, the session id it serves, refusals on the
// calling thread, the tool's own errors, timeouts, cancels, coroutine tools, shutdown, and
// `done` called exactly once for every run. Every test body runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::Gate;
using agentrt_test::run_with_time_limit;

namespace Catch {
/// Error codes print as "category:value (message)" in failed checks.
template <>
struct StringMaker<std::error_code> {
  static std::string convert(const std::error_code& ec) {
    return std::string{ec.category().name()} + ":" + std::to_string(ec.value()) + " ("
           + ec.message() + ")";
  }
};
} // namespace Catch

namespace {

using Clock = std::chrono::steady_clock;

RuntimeConfig config() {
  return agentrt_test::test_config();
}

const std::regex uuid4{"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"};

/// One run's `done`: counts its calls and hands the first reply (and the thread it came on)
/// to the test. Declared before the Runtime, so it outlives every thread that may call it.
/// `released` is set when the runtime has dropped every copy of `done`: whoever could still
/// call it (the run's job, after a shutdown ended the run) is past that point.
struct Outcome {
  std::atomic<int> calls{0};
  std::promise<ToolReply> promise;
  std::shared_future<ToolReply> future = promise.get_future().share();
  std::thread::id thread; // written before the promise is set, read after it is
  // Shared with the callback, which may be destroyed on a pool thread after the test.
  std::shared_ptr<std::promise<void>> released = std::make_shared<std::promise<void>>();
  std::future<void> released_future = released->get_future();

  struct Release {
    explicit Release(std::shared_ptr<std::promise<void>> p) : p(std::move(p)) {
    }
    Release(const Release&) = delete;
    ~Release() {
      p->set_value();
    }
    std::shared_ptr<std::promise<void>> p;
  };

  std::function<void(ToolReply)> done() {
    auto release = std::make_shared<Release>(released);
    return [this, release](ToolReply reply) {
      if (calls.fetch_add(1) == 0) {
        thread = std::this_thread::get_id();
        promise.set_value(std::move(reply));
      }
    };
  }
  /// Waits for the reply (bounded by the test's time limit).
  ToolReply get() {
    return future.get();
  }
  /// The reply, which must be there already (a refusal, before run_tool returned).
  ToolReply now() {
    REQUIRE(future.wait_for(0s) == std::future_status::ready);
    return future.get();
  }
  /// Waits until the run has ended (for a tool that must return only after that).
  void wait_ended() const {
    future.wait();
  }
  /// Waits until the runtime holds no copy of `done`.
  void wait_released() {
    released_future.get();
  }
};

/// What the tools saw, one copy of each ToolRequest, and their threads.
struct Seen {
  std::mutex mu;
  std::vector<ToolRequest> requests;
  std::vector<std::thread::id> threads;
  std::vector<bool> stoppable; // the stop token could be requested, while the tool ran

  void add(const ToolRequest& r) {
    std::lock_guard g{mu};
    requests.push_back(r);
    threads.push_back(std::this_thread::get_id());
    stoppable.push_back(r.stop.stop_possible());
  }
  std::size_t size() {
    std::lock_guard g{mu};
    return requests.size();
  }
  ToolRequest at(std::size_t i) {
    std::lock_guard g{mu};
    return requests.at(i);
  }
  std::thread::id thread(std::size_t i) {
    std::lock_guard g{mu};
    return threads.at(i);
  }
  bool stop_possible(std::size_t i) {
    std::lock_guard g{mu};
    return stoppable.at(i);
  }
};

/// Sets `p` when the scope ends: a tool's last act, so the test knows it has returned.
struct ExitSignal {
  std::promise<void>& p;
  ~ExitSignal() {
    p.set_value();
  }
};

} // namespace

TEST_CASE("a quick tool gets the call's fields with call id 0 and its result comes back for the "
          "given session",
          "[tools][run_tool]") {
  run_with_time_limit(30s, "quick tool", [] {
    auto cfg = config();
    cfg.default_timeout = 9s;
    Seen seen;
    Outcome first;
    Outcome second;
    Runtime rt{cfg};
    rt.register_tool("flights", [&](const ToolRequest& r) -> ToolResult {
      seen.add(r);
      return "3 flights to " + r.arguments + " for " + r.session_id;
    });
    auto before = Clock::now();
    rt.run_tool({.tool = "flights",
                 .operation = "search",
                 .arguments = R"({"to":"Rome"})",
                 .session_id = "sess-1",
                 .agent = "planner",
                 .timeout = 7s},
                first.done());
    auto after = Clock::now();
    auto reply = first.get();
    CHECK(reply.ok());
    CHECK(reply.error == std::error_code{});
    CHECK(reply.message.empty());
    CHECK(reply.session_id == "sess-1");
    CHECK(reply.tool == "flights");
    CHECK(reply.result == R"(3 flights to {"to":"Rome"} for sess-1)");
    REQUIRE(seen.size() == 1);
    auto r = seen.at(0);
    CHECK(r.tool == "flights");
    CHECK(r.operation == "search");
    CHECK(r.arguments == R"({"to":"Rome"})");
    CHECK(r.agent == "planner");
    CHECK(r.session_id == "sess-1");
    CHECK(r.call_id == 0);
    CHECK(r.deadline >= before + 7s); // the call's timeout
    CHECK(r.deadline <= after + 7s);
    CHECK(seen.stop_possible(0));
    CHECK_FALSE(r.stop.stop_requested());
    // Every kind of tool runs on the blocking pool, and `done` comes on a runtime thread.
    CHECK(seen.thread(0) != std::this_thread::get_id());
    CHECK(first.thread != std::this_thread::get_id());

    // No timeout in the call: the runtime's default_timeout; no agent, no operation: empty.
    before = Clock::now();
    rt.run_tool({.tool = "flights", .arguments = "Oslo", .session_id = "sess-2"}, second.done());
    after = Clock::now();
    reply = second.get();
    CHECK(reply.ok());
    CHECK(reply.session_id == "sess-2");
    CHECK(reply.result == "3 flights to Oslo for sess-2");
    REQUIRE(seen.size() == 2);
    r = seen.at(1);
    CHECK(r.operation.empty());
    CHECK(r.agent.empty());
    CHECK(r.call_id == 0);
    CHECK(r.deadline >= before + 9s);
    CHECK(r.deadline <= after + 9s);

    rt.shutdown(1s);
    CHECK(first.calls.load() == 1);
    CHECK(second.calls.load() == 1);
    CHECK(seen.size() == 2);
  });
}

TEST_CASE("a tool's own timeout shortens the deadline it sees", "[tools][run_tool][timeout]") {
  run_with_time_limit(30s, "tool timeout deadline", [] {
    Seen seen;
    Outcome out;
    Runtime rt{config()};
    rt.register_tool(
      "capped",
      [&](const ToolRequest& r) -> ToolResult {
        seen.add(r);
        return std::string{"ok"};
      },
      ToolOptions{.timeout = 3s});
    auto before = Clock::now();
    rt.run_tool({.tool = "capped", .session_id = "s", .timeout = 60s}, out.done());
    auto after = Clock::now();
    auto reply = out.get();
    CHECK(reply.ok());
    CHECK(reply.result == "ok");
    REQUIRE(seen.size() == 1);
    CHECK(seen.at(0).deadline >= before + 3s);
    CHECK(seen.at(0).deadline <= after + 3s);
    rt.shutdown(1s);
    CHECK(out.calls.load() == 1);
  });
}

TEST_CASE("an empty session id mints a UUID v4 that the tool sees and the reply echoes",
          "[tools][run_tool][ids]") {
  run_with_time_limit(30s, "minted ids", [] {
    Seen seen;
    Outcome a;
    Outcome b;
    Runtime rt{config()};
    rt.register_tool("whoami", [&](const ToolRequest& r) -> ToolResult {
      seen.add(r);
      return r.session_id;
    });
    rt.run_tool({.tool = "whoami", .arguments = "x"}, a.done());
    rt.run_tool({.tool = "whoami", .arguments = "x"}, b.done());
    auto ra = a.get();
    auto rb = b.get();
    REQUIRE(ra.ok());
    REQUIRE(rb.ok());
    CHECK(ra.session_id.size() == 36);
    CHECK(std::regex_match(ra.session_id, uuid4));
    CHECK(std::regex_match(rb.session_id, uuid4));
    CHECK(ra.result == ra.session_id); // the tool saw the minted id
    CHECK(rb.result == rb.session_id);
    CHECK(ra.session_id != rb.session_id); // a new one each time
    CHECK(ra.tool == "whoami");
    REQUIRE(seen.size() == 2);
    std::set<std::string> ids{seen.at(0).session_id, seen.at(1).session_id};
    CHECK(ids == std::set<std::string>{ra.session_id, rb.session_id});
    rt.shutdown(1s);
    CHECK(a.calls.load() == 1);
    CHECK(b.calls.load() == 1);
  });
}

TEST_CASE("refusals end the run on the calling thread before run_tool returns and never run the "
          "tool",
          "[tools][run_tool][errors]") {
  run_with_time_limit(30s, "refusals", [] {
    auto cfg = config();
    cfg.max_input_bytes = 16;
    std::atomic<int> ran{0};
    std::vector<std::unique_ptr<Outcome>> outcomes;
    Runtime rt{cfg};
    rt.register_tool("echo", [&](const ToolRequest& r) -> ToolResult {
      ran.fetch_add(1);
      return r.arguments;
    });
    // Runs `call`; the refusal must be there when run_tool returns, from this thread.
    auto refused = [&](ToolCall call) {
      outcomes.push_back(std::make_unique<Outcome>());
      auto& out = *outcomes.back();
      rt.run_tool(std::move(call), out.done());
      CHECK(out.calls.load() == 1);
      auto reply = out.now();
      CHECK(out.thread == std::this_thread::get_id());
      CHECK_FALSE(reply.ok());
      CHECK(reply.result.empty());
      return reply;
    };

    auto unknown = refused({.tool = "nope", .arguments = "x", .session_id = "s"});
    CHECK(unknown.error == errc::unknown_tool);
    CHECK(unknown.message == "unknown tool 'nope'");
    CHECK(unknown.tool == "nope");
    CHECK(unknown.session_id == "s");

    auto unknown_no_id = refused({.tool = "", .arguments = "x"});
    CHECK(unknown_no_id.error == errc::unknown_tool);
    CHECK(unknown_no_id.message == "unknown tool ''");
    CHECK(unknown_no_id.session_id.empty()); // refused before an id is minted

    auto spaced = refused({.tool = "echo", .arguments = "x", .session_id = "a b"});
    CHECK(spaced.error == errc::invalid_session_id);
    CHECK(spaced.message == "session id 'a b' is not 1-128 characters of [A-Za-z0-9._:-]");
    CHECK(spaced.session_id == "a b");
    CHECK(spaced.tool == "echo");

    auto too_long = refused({.tool = "echo", .arguments = "x", .session_id = std::string(129, 'x')});
    CHECK(too_long.error == errc::invalid_session_id);

    auto zero = refused({.tool = "echo", .arguments = "x", .session_id = "s", .timeout = 0ms});
    CHECK(zero.error == errc::invalid_timeout);
    CHECK(zero.message == "the request's timeout must be positive (or unset)");
    CHECK(zero.session_id == "s");

    auto negative = refused({.tool = "echo", .arguments = "x", .session_id = "s", .timeout = -5ms});
    CHECK(negative.error == errc::invalid_timeout);
    CHECK(negative.message == "the request's timeout must be positive (or unset)");

    auto big = refused({.tool = "echo", .arguments = std::string(17, 'x'), .session_id = "s"});
    CHECK(big.error == errc::input_too_large);
    CHECK(big.error == condition::too_large);
    CHECK(big.message == "input is 17 bytes; the limit is 16");
    CHECK(big.session_id == "s");

    CHECK(ran.load() == 0); // no refused run reached the tool

    // Arguments at the limit run.
    Outcome at_limit;
    rt.run_tool({.tool = "echo", .arguments = std::string(16, 'y'), .session_id = "s"},
                at_limit.done());
    auto ok = at_limit.get();
    CHECK(ok.ok());
    CHECK(ok.result == std::string(16, 'y'));
    CHECK(ran.load() == 1);

    rt.shutdown(1s);
    for (auto& out : outcomes)
      CHECK(out->calls.load() == 1);
    CHECK(at_limit.calls.load() == 1);
    CHECK(ran.load() == 1);
  });
}

TEST_CASE("a tool's own error passes through unchanged, whatever its category",
          "[tools][run_tool][errors]") {
  run_with_time_limit(30s, "tool errors", [] {
    Outcome failed;
    Outcome foreign;
    Outcome blocking_foreign;
    Runtime rt{config()};
    rt.register_tool("book", [](const ToolRequest&) -> ToolResult {
      return Error{errc::tool_failed, "no flights to Atlantis"};
    });
    auto enoent = std::make_error_code(std::errc::no_such_file_or_directory);
    rt.register_tool("read", [&](const ToolRequest&) -> ToolResult {
      return Error{enoent, "no /data/flights.csv"};
    });
    rt.register_tool(
      "read_slowly",
      [&](const ToolRequest&) -> ToolResult { return Error{enoent, "no /data/hotels.csv"}; },
      ToolOptions{.blocking = true});
    rt.run_tool({.tool = "book", .session_id = "s1"}, failed.done());
    rt.run_tool({.tool = "read", .session_id = "s2"}, foreign.done());
    rt.run_tool({.tool = "read_slowly", .session_id = "s3"}, blocking_foreign.done());

    auto r1 = failed.get();
    CHECK(r1.error == errc::tool_failed);
    CHECK(r1.message == "no flights to Atlantis");
    CHECK(r1.session_id == "s1");
    CHECK(r1.tool == "book");
    CHECK(r1.result.empty());

    auto r2 = foreign.get();
    CHECK(r2.error == enoent);
    CHECK(&r2.error.category() == &std::generic_category());
    CHECK(r2.message == "no /data/flights.csv");
    CHECK(r2.session_id == "s2");

    auto r3 = blocking_foreign.get();
    CHECK(r3.error == enoent);
    CHECK(r3.message == "no /data/hotels.csv");
    CHECK(r3.session_id == "s3");

    rt.shutdown(1s);
    CHECK(failed.calls.load() == 1);
    CHECK(foreign.calls.load() == 1);
    CHECK(blocking_foreign.calls.load() == 1);
  });
}

TEST_CASE("a tool that throws fails with tool_failed and the exception's text",
          "[tools][run_tool][errors]") {
  run_with_time_limit(30s, "throwing tools", [] {
    Outcome quick;
    Outcome blocking;
    Outcome odd;
    Outcome after;
    Runtime rt{config()};
    rt.register_tool("quick_throw", [](const ToolRequest&) -> ToolResult {
      throw std::runtime_error("disk on fire");
    });
    rt.register_tool(
      "blocking_throw",
      [](const ToolRequest&) -> ToolResult { throw std::invalid_argument("bad date"); },
      ToolOptions{.blocking = true});
    rt.register_tool("odd_throw", [](const ToolRequest&) -> ToolResult { throw 42; });
    rt.register_tool("fine", [](const ToolRequest& r) -> ToolResult { return r.arguments; });
    rt.run_tool({.tool = "quick_throw", .session_id = "s"}, quick.done());
    rt.run_tool({.tool = "blocking_throw", .session_id = "s"}, blocking.done());
    rt.run_tool({.tool = "odd_throw", .session_id = "s"}, odd.done());

    auto r1 = quick.get();
    CHECK(r1.error == errc::tool_failed);
    CHECK(r1.message == "the tool threw: disk on fire");
    CHECK(r1.session_id == "s");
    auto r2 = blocking.get();
    CHECK(r2.error == errc::tool_failed);
    CHECK(r2.message == "the tool threw: bad date");
    auto r3 = odd.get();
    CHECK(r3.error == errc::tool_failed);
    CHECK(r3.message == "the tool threw: unknown exception");

    // The pool is unharmed: the next run works.
    rt.run_tool({.tool = "fine", .arguments = "still here", .session_id = "s"}, after.done());
    CHECK(after.get().result == "still here");

    rt.shutdown(1s);
    CHECK(quick.calls.load() == 1);
    CHECK(blocking.calls.load() == 1);
    CHECK(odd.calls.load() == 1);
    CHECK(after.calls.load() == 1);
  });
}

TEST_CASE("a done callback that throws is ignored, for a refusal and for a run",
          "[tools][run_tool][errors]") {
  run_with_time_limit(30s, "throwing done", [] {
    std::atomic<int> calls{0};
    std::promise<void> ran;
    Outcome after;
    Runtime rt{config()};
    rt.register_tool("fine", [](const ToolRequest& r) -> ToolResult { return r.arguments; });
    auto throwing = [&](std::promise<void>* p) {
      return [&calls, p](ToolReply) {
        calls.fetch_add(1);
        if (p)
          p->set_value();
        throw std::runtime_error("host bug");
      };
    };
    CHECK_NOTHROW(rt.run_tool({.tool = "nope", .session_id = "s"}, throwing(nullptr)));
    CHECK(calls.load() == 1);
    rt.run_tool({.tool = "fine", .arguments = "x", .session_id = "s"}, throwing(&ran));
    ran.get_future().get();
    rt.run_tool({.tool = "fine", .arguments = "y", .session_id = "s"}, after.done());
    CHECK(after.get().result == "y");
    rt.shutdown(1s);
    CHECK(calls.load() == 2);
    CHECK(after.calls.load() == 1);
  });
}

TEST_CASE("a blocking tool that runs past the call's timeout ends with timeout and is told to "
          "stop",
          "[tools][run_tool][timeout]") {
  run_with_time_limit(30s, "blocking timeout", [] {
    Gate gate; // never opened: the tool waits for its stop token
    std::atomic<bool> saw_stop{false};
    std::promise<void> exited;
    Outcome out;
    Runtime rt{config()};
    rt.register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        ExitSignal signal{exited};
        gate.arrived();
        bool opened = gate.wait(r.stop);
        saw_stop = r.stop.stop_requested();
        return opened ? "opened" : "late result";
      },
      ToolOptions{.blocking = true});
    auto start = Clock::now();
    rt.run_tool({.tool = "slow", .session_id = "s", .timeout = 50ms}, out.done());
    auto reply = out.get();
    auto took = Clock::now() - start;
    CHECK(reply.error == errc::timeout);
    CHECK(reply.message == "tool 'slow' did not finish before its deadline");
    CHECK(reply.session_id == "s");
    CHECK(reply.tool == "slow");
    CHECK(reply.result.empty());
    CHECK(took >= 50ms);
    CHECK(took < 5s);
    exited.get_future().get(); // the tool was asked to stop, and did
    CHECK(saw_stop.load());
    rt.shutdown(1s);
    CHECK(out.calls.load() == 1); // what the tool returned later was dropped
  });
}

TEST_CASE("a blocking tool's own timeout wins over a longer call timeout",
          "[tools][run_tool][timeout]") {
  run_with_time_limit(30s, "tool's own timeout", [] {
    Gate gate;
    std::atomic<bool> saw_stop{false};
    std::promise<void> exited;
    Outcome out;
    Runtime rt{config()};
    rt.register_tool(
      "capped",
      [&](const ToolRequest& r) -> ToolResult {
        ExitSignal signal{exited};
        gate.arrived();
        gate.wait(r.stop);
        saw_stop = r.stop.stop_requested();
        return std::string{"late"};
      },
      ToolOptions{.blocking = true, .timeout = 50ms});
    auto start = Clock::now();
    rt.run_tool({.tool = "capped", .session_id = "s", .timeout = 60s}, out.done());
    auto reply = out.get();
    auto took = Clock::now() - start;
    CHECK(reply.error == errc::timeout);
    CHECK(reply.message == "tool 'capped' did not finish before its deadline");
    CHECK(took >= 50ms);
    CHECK(took < 5s); // the tool's timeout, not the call's
    exited.get_future().get();
    CHECK(saw_stop.load());
    rt.shutdown(1s);
    CHECK(out.calls.load() == 1);
  });
}

TEST_CASE("the host's stop token cancels a running blocking tool, which sees its stop",
          "[tools][run_tool][cancel]") {
  run_with_time_limit(30s, "cancel blocking", [] {
    Gate gate;
    std::atomic<bool> saw_stop{false};
    std::promise<void> exited;
    std::stop_source host;
    Outcome out;
    Runtime rt{config()};
    rt.register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        ExitSignal signal{exited};
        gate.arrived();
        bool opened = gate.wait(r.stop);
        saw_stop = r.stop.stop_requested();
        return opened ? "opened" : "stopped";
      },
      ToolOptions{.blocking = true});
    rt.run_tool({.tool = "slow", .session_id = "s", .timeout = 60s, .stop = host.get_token()},
                out.done());
    gate.wait_arrivals(1);
    CHECK(out.calls.load() == 0); // still running
    host.request_stop();
    auto reply = out.get();
    CHECK(reply.error == errc::cancelled);
    CHECK(reply.message == "the tool run was cancelled");
    CHECK(reply.session_id == "s");
    CHECK(reply.tool == "slow");
    CHECK(reply.result.empty());
    CHECK(out.thread == std::this_thread::get_id()); // the stop ends the run where it is made
    exited.get_future().get();
    CHECK(saw_stop.load());
    rt.shutdown(1s);
    CHECK(out.calls.load() == 1); // the cancelled run is not ended again by shutdown
  });
}

TEST_CASE("a stop requested before run_tool ends the run with cancelled",
          "[tools][run_tool][cancel]") {
  run_with_time_limit(30s, "cancel before", [] {
    std::atomic<int> quick_ran{0};
    std::atomic<int> quick_saw_stop{0};
    std::stop_source host;
    host.request_stop();
    Outcome quick;
    Outcome blocking;
    Runtime rt{config()};
    rt.register_tool("quick", [&](const ToolRequest& r) -> ToolResult {
      quick_ran.fetch_add(1);
      quick_saw_stop.fetch_add(r.stop.stop_requested() ? 1 : 0);
      return std::string{"ran"};
    });
    rt.register_tool(
      "slow", [](const ToolRequest&) -> ToolResult { return std::string{"ran"}; },
      ToolOptions{.blocking = true});
    rt.run_tool({.tool = "quick", .session_id = "s", .stop = host.get_token()}, quick.done());
    rt.run_tool({.tool = "slow", .session_id = "s", .stop = host.get_token()}, blocking.done());
    for (auto* out : {&quick, &blocking}) {
      auto reply = out->get();
      CHECK(reply.error == errc::cancelled);
      CHECK(reply.message == "the tool run was cancelled");
      CHECK(reply.session_id == "s");
      CHECK(reply.result.empty());
    }
    rt.shutdown(1s);
    CHECK(quick.calls.load() == 1);
    CHECK(blocking.calls.load() == 1);
    CHECK(quick_saw_stop.load() == quick_ran.load()); // if it ran anyway, it saw its stop
  });
}

// A run whose stop was requested before run_tool never starts its tool (a tool with side
// effects must not begin work nobody waits for).
TEST_CASE("a run stopped before it started never starts its tool",
          "[tools][run_tool][cancel]") {
  run_with_time_limit(60s, "pre-stopped blocking tool", [] {
    constexpr int runs = 200;
    std::atomic<int> ran{0};
    std::atomic<int> missed_stop{0};
    std::stop_source host;
    host.request_stop();
    std::vector<std::unique_ptr<Outcome>> outs;
    for (int i = 0; i < runs; ++i)
      outs.push_back(std::make_unique<Outcome>());
    Runtime rt{config()};
    rt.register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        ran.fetch_add(1);
        if (!r.stop.stop_requested())
          missed_stop.fetch_add(1); // would start its work (a network call) regardless
        return std::string{"ran"};
      },
      ToolOptions{.blocking = true});
    for (int i = 0; i < runs; ++i) {
      rt.run_tool({.tool = "slow", .session_id = "s", .stop = host.get_token()},
                  outs[i]->done());
      CHECK(outs[i]->get().error == errc::cancelled);
    }
    rt.shutdown(1s);
    for (auto& out : outs)
      out->wait_released();
    CHECK(ran.load() == 0);
    CHECK(missed_stop.load() == 0);
  });
}

namespace {

/// Threads a test's asynchronous operations run on, joined by the test.
struct HostThreads {
  std::mutex mu;
  std::vector<std::thread> threads;
  void start(std::function<void()> fn) {
    std::lock_guard g{mu};
    threads.emplace_back(std::move(fn));
  }
  void join() {
    std::lock_guard g{mu};
    for (auto& t : threads)
      t.join();
    threads.clear();
  }
  ~HostThreads() {
    join();
  }
};

} // namespace

TEST_CASE("a coroutine tool is driven on the pool and returns its value or its error",
          "[tools][run_tool][coroutine]") {
  run_with_time_limit(30s, "coroutine tool", [] {
    HostThreads host;
    Outcome found;
    Outcome missing;
    Outcome threw;
    Runtime rt{config()};
    rt.register_tool("lookup", AsyncToolHandler{[&](const ToolRequest& r) -> Task<ToolResult> {
                       // Named first: g++ 12 destroys a capturing lambda written inside
                       // co_await twice.
                       auto start = [&host, args = r.arguments](Completion<std::string> done) {
                         host.start([done, args] {
                           if (args == "Atlantis")
                             done.fail(Error{errc::tool_failed, "no such city"});
                           else
                             done("found " + args);
                         });
                       };
                       auto got = co_await wait_for<std::string>(std::move(start));
                       if (!got)
                         co_return got.error();
                       co_return *got + " op=" + r.operation + " agent=" + r.agent + " for "
                         + r.session_id + " call " + std::to_string(r.call_id);
                     }});
    rt.register_tool("async_throw", AsyncToolHandler{[](const ToolRequest&) -> Task<ToolResult> {
                       throw std::runtime_error("index offline");
                       co_return std::string{};
                     }});
    rt.run_tool({.tool = "lookup",
                 .operation = "search",
                 .arguments = "Rome",
                 .session_id = "s1",
                 .agent = "planner"},
                found.done());
    rt.run_tool({.tool = "lookup", .arguments = "Atlantis", .session_id = "s2"}, missing.done());
    rt.run_tool({.tool = "async_throw", .session_id = "s3"}, threw.done());

    auto r1 = found.get();
    CHECK(r1.ok());
    CHECK(r1.result == "found Rome op=search agent=planner for s1 call 0");
    CHECK(r1.session_id == "s1");
    CHECK(r1.tool == "lookup");
    CHECK(found.thread != std::this_thread::get_id());
    auto r2 = missing.get();
    CHECK(r2.error == errc::tool_failed);
    CHECK(r2.message == "no such city");
    CHECK(r2.session_id == "s2");
    auto r3 = threw.get();
    CHECK(r3.error == errc::tool_failed);
    CHECK(r3.message == "the tool threw: index offline");
    CHECK(r3.session_id == "s3");

    host.join();
    rt.shutdown(1s);
    CHECK(found.calls.load() == 1);
    CHECK(missing.calls.load() == 1);
    CHECK(threw.calls.load() == 1);
  });
}

TEST_CASE("a coroutine tool stuck in an await ends with timeout or cancelled",
          "[tools][run_tool][coroutine][timeout][cancel]") {
  run_with_time_limit(30s, "stuck coroutine tool", [] {
    std::mutex mu;
    std::vector<Completion<std::string>> held;
    Gate started;
    std::stop_source host;
    Outcome timed_out;
    Outcome cancelled;
    Runtime rt{config()};
    rt.register_tool("stuck", AsyncToolHandler{[&](const ToolRequest&) -> Task<ToolResult> {
                       auto start = [&](Completion<std::string> done) {
                         {
                           std::lock_guard g{mu};
                           held.push_back(std::move(done));
                         }
                         started.arrived();
                       };
                       auto r = co_await wait_for<std::string>(std::move(start));
                       // Passing off a failed await as a result does not count.
                       co_return r ? *r : std::string{"made up"};
                     }});
    auto start = Clock::now();
    rt.run_tool({.tool = "stuck", .session_id = "t", .timeout = 50ms}, timed_out.done());
    auto r1 = timed_out.get();
    auto took = Clock::now() - start;
    CHECK(r1.error == errc::timeout);
    CHECK(r1.message == "tool 'stuck' did not finish before its deadline");
    CHECK(r1.session_id == "t");
    CHECK(took >= 50ms);
    CHECK(took < 5s);

    rt.run_tool({.tool = "stuck", .session_id = "c", .timeout = 60s, .stop = host.get_token()},
                cancelled.done());
    started.wait_arrivals(2);
    CHECK(cancelled.calls.load() == 0);
    host.request_stop();
    auto r2 = cancelled.get();
    CHECK(r2.error == errc::cancelled);
    CHECK(r2.message == "the tool run was cancelled");
    CHECK(r2.session_id == "c");

    rt.shutdown(1s); // the drivers have failed the awaits, and returned
    // Completing the abandoned awaits late changes nothing.
    {
      std::lock_guard g{mu};
      CHECK(held.size() == 2);
      for (auto& done : held)
        CHECK_FALSE(done("late"));
    }
    CHECK(timed_out.calls.load() == 1);
    CHECK(cancelled.calls.load() == 1);
  });
}

TEST_CASE("after shutdown run_tool is refused with shutting_down on the calling thread",
          "[tools][run_tool][shutdown]") {
  run_with_time_limit(30s, "run after shutdown", [] {
    std::atomic<int> ran{0};
    Outcome out;
    Outcome empty_id;
    Runtime rt{config()};
    rt.register_tool("echo", [&](const ToolRequest& r) -> ToolResult {
      ran.fetch_add(1);
      return r.arguments;
    });
    rt.shutdown(1s);
    rt.run_tool({.tool = "echo", .arguments = "x", .session_id = "s"}, out.done());
    CHECK(out.calls.load() == 1);
    auto reply = out.now();
    CHECK(out.thread == std::this_thread::get_id());
    CHECK(reply.error == errc::shutting_down);
    CHECK(reply.message == "the runtime is shutting down and takes no more calls");
    CHECK(reply.session_id == "s");
    CHECK(reply.tool == "echo");
    CHECK(reply.result.empty());
    rt.run_tool({.tool = "echo", .arguments = "x"}, empty_id.done());
    CHECK(empty_id.calls.load() == 1);
    CHECK(empty_id.now().error == errc::shutting_down);
    rt.shutdown(1s); // idempotent
    CHECK(out.calls.load() == 1);
    CHECK(empty_id.calls.load() == 1);
    CHECK(ran.load() == 0);
  });
}

TEST_CASE("a blocking tool running when shutdown starts ends once with shutting_down and is "
          "told to stop",
          "[tools][run_tool][shutdown]") {
  run_with_time_limit(30s, "shutdown while running", [] {
    Gate gate;
    std::atomic<bool> saw_stop{false};
    std::promise<void> exited;
    Outcome out;
    Runtime rt{config()};
    rt.register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        ExitSignal signal{exited};
        gate.arrived();
        bool opened = gate.wait(r.stop);
        saw_stop = r.stop.stop_requested();
        return opened ? "opened" : "late result";
      },
      ToolOptions{.blocking = true});
    rt.run_tool({.tool = "slow", .session_id = "s", .timeout = 60s}, out.done());
    gate.wait_arrivals(1);
    CHECK(out.calls.load() == 0);
    auto start = Clock::now();
    rt.shutdown(2s);
    CHECK(Clock::now() - start < 2s); // no session to drain: the run is ended at once
    auto reply = out.get();
    CHECK(reply.error == errc::shutting_down);
    CHECK(reply.message == "the runtime is shutting down and takes no more calls");
    CHECK(reply.session_id == "s");
    CHECK(reply.tool == "slow");
    CHECK(reply.result.empty());
    exited.get_future().get();
    CHECK(saw_stop.load());
    out.wait_released(); // the run's job is over: it can no longer call done
    CHECK(out.calls.load() == 1); // what the tool returned later was dropped
  });
}

TEST_CASE("destroying the Runtime ends a running blocking tool once with shutting_down",
          "[tools][run_tool][shutdown]") {
  run_with_time_limit(30s, "destroy while running", [] {
    Gate gate;
    std::atomic<bool> saw_stop{false};
    std::promise<void> exited;
    Outcome out;
    auto rt = std::make_unique<Runtime>(config());
    rt->register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        ExitSignal signal{exited};
        gate.arrived();
        gate.wait(r.stop);
        saw_stop = r.stop.stop_requested();
        return std::string{"late"};
      },
      ToolOptions{.blocking = true});
    rt->run_tool({.tool = "slow", .session_id = "s"}, out.done());
    gate.wait_arrivals(1);
    rt.reset();
    auto reply = out.get();
    CHECK(reply.error == errc::shutting_down);
    CHECK(reply.session_id == "s");
    exited.get_future().get();
    CHECK(saw_stop.load());
    out.wait_released();
    CHECK(out.calls.load() == 1);
  });
}

TEST_CASE("100 concurrent runs from 4 threads each get their own session id back",
          "[tools][run_tool][concurrency]") {
  run_with_time_limit(60s, "concurrent runs", [] {
    constexpr int threads = 4;
    constexpr int per_thread = 25;
    constexpr int total = threads * per_thread;
    std::vector<std::unique_ptr<Outcome>> outs;
    for (int i = 0; i < total; ++i)
      outs.push_back(std::make_unique<Outcome>());
    std::atomic<int> ran{0};
    Runtime rt{config()};
    auto tool = [&](const ToolRequest& r) -> ToolResult {
      ran.fetch_add(1);
      return r.session_id + "|" + r.arguments;
    };
    rt.register_tool("quick", tool);
    rt.register_tool("slow", tool, ToolOptions{.blocking = true});
    auto session_of = [](int i) {
      return i % 10 == 0 ? std::string{} : "w" + std::to_string(i); // every 10th is minted
    };
    std::latch go{threads};
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t)
      callers.emplace_back([&, t] {
        go.arrive_and_wait();
        for (int k = 0; k < per_thread; ++k) {
          int i = t * per_thread + k;
          rt.run_tool({.tool = i % 2 ? "quick" : "slow",
                       .arguments = "a" + std::to_string(i),
                       .session_id = session_of(i)},
                      outs[i]->done());
        }
      });
    for (auto& c : callers)
      c.join();
    int mixed_up = 0;
    std::set<std::string> minted;
    for (int i = 0; i < total; ++i) {
      auto reply = outs[i]->get();
      REQUIRE(reply.ok());
      auto expected_session = session_of(i);
      if (expected_session.empty()) {
        CHECK(std::regex_match(reply.session_id, uuid4));
        minted.insert(reply.session_id);
      } else if (reply.session_id != expected_session) {
        ++mixed_up;
      }
      if (reply.result != reply.session_id + "|a" + std::to_string(i))
        ++mixed_up;
      if (reply.tool != (i % 2 ? "quick" : "slow"))
        ++mixed_up;
    }
    CHECK(mixed_up == 0);
    CHECK(minted.size() == total / 10); // every minted id is new
    rt.shutdown(1s);
    CHECK(ran.load() == total);
    int calls = 0;
    for (auto& out : outs)
      calls += out->calls.load();
    CHECK(calls == total); // each run's done exactly once
    for (auto& out : outs)
      REQUIRE(out->calls.load() == 1);
  });
}

TEST_CASE("runs racing with shutdown from 4 threads each end exactly once",
          "[tools][run_tool][shutdown][concurrency]") {
  run_with_time_limit(60s, "runs racing shutdown", [] {
    constexpr int threads = 4;
    constexpr int per_thread = 25;
    constexpr int total = threads * per_thread;
    // Shared with the slow tool: a pool thread the shutdown abandons may still be in it.
    auto shared_outs = std::make_shared<std::vector<std::unique_ptr<Outcome>>>();
    auto& outs = *shared_outs;
    for (int i = 0; i < total; ++i)
      outs.push_back(std::make_unique<Outcome>());
    auto gate = std::make_shared<Gate>(); // never opened: the slow tool waits for its stop
    Runtime rt{config()};
    rt.register_tool("quick", [](const ToolRequest& r) -> ToolResult { return r.session_id; });
    rt.register_tool(
      "slow",
      [shared_outs, gate](const ToolRequest& r) -> ToolResult {
        gate->wait(r.stop);
        // Stopped only by shutdown: returns at once, racing with shutdown's end of the run.
        return r.session_id;
      },
      ToolOptions{.blocking = true});
    std::latch issued{threads}; // each thread has issued its first 10 runs
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t)
      callers.emplace_back([&, t] {
        for (int k = 0; k < per_thread; ++k) {
          int i = t * per_thread + k;
          rt.run_tool({.tool = i % 2 ? "quick" : "slow",
                       .session_id = "r" + std::to_string(i),
                       .timeout = 60s},
                      outs[i]->done());
          if (k == 9)
            issued.count_down();
        }
      });
    issued.wait();
    rt.shutdown(1s); // while the callers go on
    for (auto& c : callers)
      c.join();
    std::vector<std::string> wrong;
    int ok = 0;
    for (int i = 0; i < total; ++i) {
      auto reply = outs[i]->get();
      bool right = reply.session_id == "r" + std::to_string(i);
      if (reply.ok()) {
        ++ok;
        right = right && i % 2 == 1 && reply.result == reply.session_id; // slow cannot succeed
      } else {
        right = right && reply.error == errc::shutting_down
                && reply.message == "the runtime is shutting down and takes no more calls";
      }
      if (!right)
        wrong.push_back("run " + std::to_string(i) + " (" + (i % 2 ? "quick" : "slow")
                        + "): session '" + reply.session_id + "' result '" + reply.result
                        + "' error " + Catch::StringMaker<std::error_code>::convert(reply.error)
                        + " '" + reply.message + "'");
    }
    CHECK(wrong == std::vector<std::string>{});
    CHECK(ok <= total / 2);
    for (auto& out : outs)
      out->wait_released(); // no job is left that could call done again
    int calls = 0;
    for (auto& out : outs)
      calls += out->calls.load();
    CHECK(calls == total);
    for (auto& out : outs)
      REQUIRE(out->calls.load() == 1);
  });
}

// A run that shutdown ends ends with shutting_down even when the tool returns the moment it
// is stopped: here the tool's stop callback, which runs inside shutdown, holds it until the
// tool's own result is in, so a close that stopped before it ended would lose the race.
TEST_CASE("a tool that returns as soon as shutdown stops it still ends with shutting_down",
          "[tools][run_tool][shutdown]") {
  run_with_time_limit(30s, "tool returning at shutdown", [] {
    Outcome out;
    Gate gate;
    std::mutex mu;
    std::condition_variable cv;
    bool stopped = false;
    std::optional<std::stop_callback<std::function<void()>>> hook; // outlives the tool
    Runtime rt{config()};
    rt.register_tool("quick", [&](const ToolRequest& r) -> ToolResult {
      hook.emplace(r.stop, std::function<void()>{[&] {
                     {
                       std::lock_guard g{mu};
                       stopped = true;
                     }
                     cv.notify_all();
                     out.future.wait_for(5s); // on the thread in close(): until done ran
                   }});
      gate.arrived();
      std::unique_lock l{mu};
      cv.wait(l, [&] { return stopped; });
      return std::string{"late result"};
    });
    rt.run_tool({.tool = "quick", .session_id = "s"}, out.done());
    gate.wait_arrivals(1);
    rt.shutdown(1s);
    auto reply = out.get();
    CHECK(reply.error == errc::shutting_down);
    CHECK(reply.result.empty());
    out.wait_released();
    CHECK(out.calls.load() == 1);
  });
}

// A run that shutdown ends gets its outcome on the thread that shuts down (documented), so
// it has it when shutdown returns.
TEST_CASE("done for a run that shutdown ends runs on the thread calling shutdown",
          "[tools][run_tool][shutdown]") {
  run_with_time_limit(30s, "done thread at shutdown", [] {
    Gate gate;
    std::promise<void> exited;
    Outcome out;
    Runtime rt{config()};
    rt.register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        ExitSignal signal{exited};
        gate.arrived();
        gate.wait(r.stop);
        out.wait_ended(); // so that shutdown, not the tool's return, ends the run
        return std::string{"late"};
      },
      ToolOptions{.blocking = true});
    rt.run_tool({.tool = "slow", .session_id = "s"}, out.done());
    gate.wait_arrivals(1);
    rt.shutdown(1s);
    auto reply = out.get();
    CHECK(reply.error == errc::shutting_down);
    CHECK(out.thread == std::this_thread::get_id());
    exited.get_future().get();
    out.wait_released();
    CHECK(out.calls.load() == 1);
  });
}

TEST_CASE("a run still waiting for a pool thread ends at once on its stop, at its timeout when "
          "a thread takes it, and its tool never starts",
          "[tools][run_tool][cancel]") {
  run_with_time_limit(30s, "queued runs", [] {
    Gate gate;
    std::atomic<int> queued_ran{0};
    Outcome hog, stopped, late;
    auto rc = config();
    rc.blocking_threads = 1;
    rc.max_blocking_threads = 1;
    Runtime rt{rc};
    // Registered as quick (it is not): it runs on the run's own pool thread, the only one,
    // and holds it until the test releases it, whatever its stop says.
    rt.register_tool("hog", [&](const ToolRequest&) -> ToolResult {
      gate.arrived();
      gate.wait(std::stop_token{});
      return std::string{"hogged"};
    });
    rt.register_tool("quick", [&](const ToolRequest&) -> ToolResult {
      queued_ran.fetch_add(1);
      return std::string{"ran"};
    });
    rt.run_tool({.tool = "hog", .session_id = "h", .timeout = 60s}, hog.done());
    gate.wait_arrivals(1);
    std::stop_source host;
    rt.run_tool({.tool = "quick", .session_id = "q1", .stop = host.get_token()}, stopped.done());
    auto late_deadline = Clock::now() + 1ms;
    rt.run_tool({.tool = "quick", .session_id = "q2", .timeout = 1ms}, late.done());
    host.request_stop();
    REQUIRE(stopped.future.wait_for(0s) == std::future_status::ready); // on this thread
    CHECK(stopped.get().error == errc::cancelled);
    CHECK(stopped.thread == std::this_thread::get_id());
    CHECK(late.future.wait_for(0s) == std::future_status::timeout); // no thread yet
    std::this_thread::sleep_until(late_deadline + 1ms); // what is tested: a timeout passing
    gate.open();
    CHECK(hog.get().result == "hogged");
    CHECK(late.get().error == errc::timeout);
    rt.shutdown(1s);
    CHECK(queued_ran.load() == 0);
    CHECK(stopped.calls.load() == 1);
    CHECK(late.calls.load() == 1);
  });
}
