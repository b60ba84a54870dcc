// Coroutine turns on real threads: they hold no thread while they wait, resume on their
// session, and every way a call can end reaches a suspended turn at once. Every test body
// runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::eventually;
using agentrt_test::Gate;
using agentrt_test::kinds_of;
using agentrt_test::read_all;
using agentrt_test::run_with_time_limit;
using agentrt_test::code_of;

namespace {

RuntimeConfig config() {
  return agentrt_test::test_config();
}

/// Counts live instances, so a test can see a coroutine's locals destroyed.
struct Alive {
  static inline std::atomic<int> count{0};
  Alive() {
    count.fetch_add(1);
  }
  Alive(const Alive&) {
    count.fetch_add(1);
  }
  ~Alive() {
    count.fetch_sub(1);
  }
};

/// A host-side asynchronous operation: its Completion, held until the test completes it.
template <class T>
struct Pending {
  std::mutex mu;
  std::vector<Completion<T>> handles;
  std::atomic<int> started{0};

  auto starter() {
    return [this](Completion<T> done) {
      {
        std::lock_guard g{mu};
        handles.push_back(std::move(done));
      }
      started.fetch_add(1);
    };
  }
  Completion<T> take(std::size_t i = 0) {
    std::lock_guard g{mu};
    return handles.at(i);
  }
};

} // namespace

TEST_CASE("a coroutine turn streams and keeps state across awaits and commits like any turn",
          "[coroutine]") {
  run_with_time_limit(30s, "basic coroutine", [] {
    Runtime rt{config()};
    rt.register_handler("co", [](AsyncTurn& t) -> Task<std::string> {
      auto n = std::stoi(t.state().get_or("n", "0")) + 1; // a plain local kept across awaits
      t.phase("thinking");
      auto slept = co_await t.sleep(20ms);
      t.emit("a");
      t.state().set("n", std::to_string(n));
      co_await t.sleep(1ms);
      t.emit("b");
      co_return (slept ? "slept " : "woken ") + std::to_string(n) + " " + t.input();
    });
    auto call = rt.invoke({.agent = "co", .session_id = "s", .input = "x"}).value();
    auto events = read_all(call);
    CHECK(kinds_of(events)
          == std::vector<EventKind>{EventKind::started, EventKind::phase, EventKind::chunk,
                                    EventKind::chunk, EventKind::completed});
    for (std::size_t i = 0; i < events.size(); ++i)
      CHECK(events[i].seq == i + 1);
    CHECK(call.reply().output == "slept 1 x");
    CHECK(rt.ask({.agent = "co", .session_id = "s", .input = "y"}).output == "slept 2 y");
    CHECK(rt.describe({"co", "s"})->history_size == 4);
    auto s = rt.stats();
    CHECK(s.turns_completed == 2);
    CHECK(s.running_turns == 0);
  });
}

TEST_CASE("1000 concurrent coroutine turns wait without threads and keep their streams apart",
          "[coroutine][concurrency]") {
  run_with_time_limit(60s, "1000 coroutines", [] {
    Runtime rt{config()};
    std::atomic<int> inside{0};
    std::atomic<int> most{0};
    rt.register_handler("model", [&](AsyncTurn& t) -> Task<std::string> {
      int now = inside.fetch_add(1) + 1;
      for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      for (int i = 0; i < 5; ++i) {
        co_await t.sleep(50ms);
        t.emit(t.session_id() + ":" + std::to_string(i));
      }
      inside.fetch_sub(1);
      co_return t.session_id();
    });
    std::vector<Call> calls;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i)
      calls.push_back(
        rt.invoke({.agent = "model", .session_id = "u" + std::to_string(i), .input = "x"}).value());
    int foreign = 0;
    int complete = 0;
    for (auto& c : calls) {
      auto events = read_all(c);
      int chunk = 0;
      for (auto& e : events) {
        if (e.session_id != c.session_id() || e.call_id != c.id())
          ++foreign;
        if (e.kind == EventKind::chunk && e.data != c.session_id() + ":" + std::to_string(chunk++))
          ++foreign;
      }
      complete += events.back().kind == EventKind::completed && chunk == 5;
    }
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(foreign == 0);
    CHECK(complete == 1000);
    // Every turn was suspended at once: 1000 waited together on 2 actor workers.
    CHECK(most.load() == 1000);
    std::printf("1000 coroutine turns of 5 x 50 ms: %lld ms\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  });
}

TEST_CASE("a Completion resumes its turn once when called twice or late or never or after the Runtime",
          "[coroutine][completion]") {
  run_with_time_limit(30s, "completion handles", [] {
    Pending<std::string> op;
    std::promise<Completion<std::string>> outlives;
    {
      Runtime rt{config()};
      rt.register_handler("co", [&](AsyncTurn& t) -> Task<std::string> {
        auto r = co_await t.wait_for<std::string>(op.starter());
        co_return r ? *r : code_of(r.error().code);
      });
      // Twice: the first outcome counts, the second is ignored.
      auto a = rt.invoke({.agent = "co", .session_id = "a", .input = "x"}).value();
      eventually([&] { return op.started.load() == 1; });
      CHECK(op.take(0)("first"));
      CHECK_FALSE(op.take(0)("second"));
      CHECK(op.take(0).done());
      CHECK(a.reply().output == "first");
      // Late: after the call timed out, completing is a no-op.
      auto b = rt.invoke({.agent = "co", .session_id = "b", .input = "x", .timeout = 50ms}).value();
      eventually([&] { return op.started.load() == 2; });
      CHECK(b.reply().error == errc::timeout);
      CHECK_FALSE(op.take(1)("too late"));
      // Never: every handle dropped without an outcome ends the await with abandoned.
      rt.register_handler("dropper", [](AsyncTurn& t) -> Task<std::string> {
        auto r = co_await t.wait_for<int>([](Completion<int>) { /* forgets it */ });
        co_return r ? "?" : code_of(r.error().code);
      });
      CHECK(rt.ask({.agent = "dropper", .session_id = "c", .input = "x"}).output == "abandoned");
      // After the Runtime: a handle kept past its end completes into nothing.
      auto d = rt.invoke({.agent = "co", .session_id = "d", .input = "x"}).value();
      eventually([&] { return op.started.load() == 3; });
      outlives.set_value(op.take(2));
      rt.shutdown(100ms);
      CHECK(d.reply().error == errc::shutting_down);
    }
    auto late = outlives.get_future().get();
    std::thread{[late] { CHECK_FALSE(late("after the runtime")); }}.join();
  });
}

TEST_CASE("a coroutine turn cancelled while suspended in each awaitable stops at once",
          "[coroutine][cancel]") {
  run_with_time_limit(30s, "cancel while suspended", [] {
    Runtime rt{config()};
    Pending<int> op;
    Gate tool_gate;
    rt.register_tool(
      "slow",
      [&](const ToolRequest& r) -> ToolResult {
        tool_gate.arrived();
        tool_gate.wait(r.stop); // until stopped
        return r.stop.stop_requested() ? ToolResult{Error{errc::cancelled, "stopped"}}
                                       : ToolResult{"done"};
      },
      ToolOptions{.blocking = true});
    Gate child_gate;
    rt.register_handler(
      "child",
      [&](Turn& t) {
        child_gate.arrived();
        child_gate.wait(t.stop_token());
        return std::string{"child"};
      },
      AgentOptions{.blocking = true});
    std::atomic<int> resumed{0};
    std::map<std::string, std::string> seen;
    std::mutex seen_mu;
    rt.register_handler("co", [&](AsyncTurn& t) -> Task<std::string> {
      Alive local;
      std::string what;
      if (t.input() == "sleep") {
        auto r = co_await t.sleep(1h);
        what = r ? "ok" : code_of(r.error().code);
      } else if (t.input() == "wait") {
        auto r = co_await t.wait_for<int>(op.starter());
        what = r ? "ok" : code_of(r.error().code);
      } else if (t.input() == "tool") {
        auto r = co_await t.call_tool("slow", "x");
        what = r ? "ok" : code_of(r.error().code);
      } else {
        auto r = co_await t.ask("child", "x");
        what = code_of(r.error);
      }
      resumed.fetch_add(1);
      {
        std::lock_guard g{seen_mu};
        seen[t.input()] = what;
      }
      co_return what;
    });
    int n = 0;
    for (auto what : {"sleep", "wait", "tool", "ask"}) {
      auto call = rt.invoke({.agent = "co", .session_id = what, .input = what}).value();
      if (std::string{what} == "wait")
        eventually([&] { return op.started.load() == 1; });
      else if (std::string{what} == "tool")
        tool_gate.wait_arrivals(1);
      else if (std::string{what} == "ask")
        child_gate.wait_arrivals(1);
      else
        eventually([&] { return rt.describe({"co", what})->running; });
      CHECK(call.cancel());
      CHECK(call.reply().error == errc::cancelled);
      ++n;
      eventually([&] { return resumed.load() == n; });
      std::lock_guard g{seen_mu};
      CHECK(seen[what] == "cancelled"); // the await completed with the call's error
    }
    eventually([&] { return rt.stats().running_turns == 0; });
    CHECK(Alive::count.load() == 0); // every coroutine's locals are gone
    CHECK(rt.stats().turns_completed == 0);
    CHECK(rt.describe({"co", "sleep"})->turns == 0); // nothing was committed
  });
}

TEST_CASE("timeout and interrupt and rollback reach a suspended coroutine turn at once",
          "[coroutine][busy]") {
  run_with_time_limit(30s, "policies on coroutines", [] {
    Runtime rt{config()};
    rt.register_handler("co", [](AsyncTurn& t) -> Task<std::string> {
      t.emit("partial");
      auto r = co_await t.sleep(1h);
      co_return r ? "slept" : "woke: " + code_of(r.error().code);
    });
    auto start = std::chrono::steady_clock::now();
    auto timed = rt.ask({.agent = "co", .session_id = "t", .input = "x", .timeout = 100ms});
    CHECK(timed.error == errc::timeout);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    // Interrupt: the pending await ends with interrupted; the turn's output is kept.
    auto first = rt.invoke({.agent = "co", .session_id = "i", .input = "a"}).value();
    eventually([&] { return rt.describe({"co", "i"})->running; });
    auto urgent = rt.invoke(
      {.agent = "co", .session_id = "i", .input = "b", .on_busy = BusyPolicy::interrupt, .timeout = 100ms}).value();
    auto r1 = first.take();
    CHECK(r1.error == errc::interrupted);
    CHECK(r1.output == "woke: interrupted");
    CHECK(r1.turn == 1);
    CHECK(urgent.take().error == errc::timeout); // it then waits an hour: its own timeout
    CHECK(rt.describe({"co", "i"})->turns == 1);
    // Rollback: discarded with its input.
    auto doomed = rt.invoke({.agent = "co", .session_id = "r", .input = "a"}).value();
    eventually([&] { return rt.describe({"co", "r"})->running; });
    auto after = rt.invoke({.agent = "co", .session_id = "r", .input = "b",
                            .on_busy = BusyPolicy::rollback, .timeout = 100ms}).value();
    CHECK(doomed.take().error == errc::rolled_back);
    CHECK(after.take().error == errc::timeout);
    CHECK(rt.describe({"co", "r"})->turns == 0);
    // Reject while suspended: the session is busy.
    auto busy = rt.invoke({.agent = "co", .session_id = "b", .input = "a", .timeout = 200ms}).value();
    eventually([&] { return rt.describe({"co", "b"})->running; });
    CHECK(rt.ask({.agent = "co", .session_id = "b", .input = "x", .on_busy = BusyPolicy::reject})
            .error
          == errc::session_busy);
    CHECK(busy.take().error == errc::timeout);
  });
}

TEST_CASE("close and shutdown end a suspended coroutine turn and destroy its locals",
          "[coroutine][close][shutdown]") {
  run_with_time_limit(30s, "close coroutine", [] {
    Alive::count = 0;
    std::atomic<int> after_await{0};
    Call at_shutdown;
    {
      Runtime rt{config()};
      rt.register_handler("co", [&](AsyncTurn& t) -> Task<std::string> {
        Alive local;
        co_await t.wait_for<int>([](Completion<int> done) {
          static std::vector<Completion<int>> kept; // held forever: only a stop ends the wait
          kept.push_back(std::move(done));
        });
        after_await.fetch_add(1);
        co_return std::string{"late"};
      });
      auto call = rt.invoke({.agent = "co", .session_id = "c", .input = "x"}).value();
      eventually([&] { return Alive::count.load() == 1; });
      CHECK(rt.close({"co", "c"}).value());
      CHECK(call.reply().error == errc::session_closed);
      eventually([&] { return Alive::count.load() == 0; }); // destroyed at its suspension point
      at_shutdown = rt.invoke({.agent = "co", .session_id = "s", .input = "x"}).value();
      eventually([&] { return Alive::count.load() == 1; });
      rt.shutdown(50ms);
    }
    CHECK(at_shutdown.reply().error == errc::shutting_down);
    CHECK(Alive::count.load() == 0);
    CHECK(after_await.load() <= 2); // it may have resumed with the error; never "late" committed
  });
}

TEST_CASE("a coroutine that throws or fails changes nothing", "[coroutine][errors]") {
  run_with_time_limit(30s, "coroutine failure", [] {
    Runtime rt{config()};
    rt.register_handler("co", [](AsyncTurn& t) -> Task<std::string> {
      t.state().set("touched", "yes");
      co_await t.sleep(1ms);
      if (t.input() == "throw")
        throw std::runtime_error("model unreachable");
      t.fail("no good answer");
      co_return std::string{"ignored"};
    });
    auto thrown = rt.ask({.agent = "co", .session_id = "s", .input = "throw"});
    CHECK(thrown.error == errc::agent_failed);
    CHECK(thrown.message == "model unreachable");
    auto failed = rt.ask({.agent = "co", .session_id = "s", .input = "fail"});
    CHECK(failed.error == errc::agent_failed);
    CHECK(failed.message == "no good answer");
    CHECK(rt.describe({"co", "s"})->history_size == 0);
    CHECK(rt.stats().turns_failed == 2);
    CHECK_THROWS_WITH(rt.register_handler(
                        "bad", [](AsyncTurn&) -> Task<std::string> { co_return ""; },
                        AgentOptions{.blocking = true}),
                      Catch::Contains("cannot be blocking"));
  });
}

namespace {

/// A coroutine agent whose factory throws for its first session ("boom"), returns nothing
/// for "none", and otherwise makes an agent that returns no coroutine for input "empty".
class Flaky final : public AsyncAgent {
public:
  Task<std::string> handle(AsyncTurn& t) override {
    if (t.input() == "empty")
      return Task<std::string>{};
    return answer(t);
  }

private:
  static Task<std::string> answer(AsyncTurn& t) {
    co_await t.sleep(1ms);
    co_return "ok " + t.input();
  }
};

} // namespace

TEST_CASE("a coroutine agent that fails before its coroutine starts fails at once and the "
          "session stays usable",
          "[coroutine][errors]") {
  run_with_time_limit(30s, "coroutine factory", [] {
    Runtime rt{config()};
    std::atomic<int> made{0};
    rt.register_agent("flaky", [&made](const SessionKey& key) -> std::unique_ptr<AsyncAgent> {
      if (key.session_id == "none")
        return nullptr;
      if (key.session_id == "boom" && made.fetch_add(1) == 0)
        throw std::runtime_error("no model configured");
      return std::make_unique<Flaky>();
    });
    // Each fails with agent_failed at once, not at the call's 5-minute default timeout.
    auto thrown = rt.ask({.agent = "flaky", .session_id = "boom", .input = "x"});
    CHECK(thrown.error == errc::agent_failed);
    CHECK(thrown.message == "the agent factory threw: no model configured");
    auto none = rt.ask({.agent = "flaky", .session_id = "none", .input = "x"});
    CHECK(none.error == errc::agent_failed);
    CHECK(none.message == "the agent factory returned no agent");
    auto empty = rt.ask({.agent = "flaky", .session_id = "e", .input = "empty"});
    CHECK(empty.error == errc::agent_failed);
    CHECK(empty.message == "the handler returned no coroutine");
    // The sessions are not stuck busy: the next call runs (the factory tries again).
    CHECK(rt.ask({.agent = "flaky", .session_id = "boom", .input = "y"}).output == "ok y");
    CHECK(rt.ask({.agent = "flaky", .session_id = "e", .input = "z"}).output == "ok z");
    CHECK(rt.stats().running_turns == 0);
    CHECK(rt.stats().turns_failed == 3);
  });
}

namespace {

/// A coroutine tool: it awaits a host operation without holding a thread.
Task<ToolResult> lookup(const ToolRequest& r) {
  // Named first: g++ 12 destroys a capturing lambda written inside co_await twice.
  auto start = [args = r.arguments](Completion<std::string> done) {
    std::thread{[done, args] {
      std::this_thread::sleep_for(5ms);
      done("found " + args);
    }}.detach();
  };
  auto found = co_await wait_for<std::string>(std::move(start));
  if (!found)
    co_return found.error();
  co_return *found + " for " + r.session_id;
}

} // namespace

TEST_CASE("coroutine tools run in a coroutine turn and on a blocking turn's thread but not inline",
          "[coroutine][tools]") {
  run_with_time_limit(30s, "coroutine tools", [] {
    Runtime rt{config()};
    rt.register_tool("lookup", AsyncToolHandler{lookup});
    rt.register_tool(
      "blocking_quote", [](const ToolRequest& r) -> ToolResult { return "quote " + r.arguments; },
      ToolOptions{.blocking = true});
    rt.register_handler("co", [](AsyncTurn& t) -> Task<std::string> {
      auto a = co_await t.call_tool("lookup", "Rome");
      auto b = co_await t.call_tool("blocking_quote", "Rome");
      auto c = co_await t.call_tool("nope", "x");
      co_return a.value() + "; " + b.value() + "; " + code_of(c.error().code);
    });
    rt.register_handler(
      "blocking", [](Turn& t) { return t.call_tool("lookup", "Oslo").value(); },
      AgentOptions{.blocking = true});
    rt.register_handler("inline", [](Turn& t) {
      return code_of(t.call_tool("lookup", "x").error().code);
    });
    auto call = rt.invoke({.agent = "co", .session_id = "s", .input = "x"}).value();
    auto events = read_all(call);
    CHECK(call.reply().output == "found Rome for s; quote Rome; unknown_tool");
    int tool_events = 0;
    for (auto& e : events)
      tool_events += e.kind == EventKind::tool_call || e.kind == EventKind::tool_result;
    CHECK(tool_events == 6);
    CHECK(rt.describe({"co", "s"})->history_size == 8); // user, 3 x (call, result), assistant
    CHECK(rt.ask({.agent = "blocking", .session_id = "s", .input = "x"}).output
          == "found Oslo for s");
    CHECK(rt.ask({.agent = "inline", .session_id = "s", .input = "x"}).output
          == "blocking_required");
  });
}

TEST_CASE("a coroutine tool's own timeout fails it with timeout in coroutine and blocking turns",
          "[coroutine][tools][timeout]") {
  run_with_time_limit(30s, "coroutine tool timeout", [] {
    Runtime rt{config()};
    // The tool awaits an operation that never completes in time, and then tries to pass
    // off its failed await as a result: the timeout is what the turn sees.
    std::mutex mu;
    std::vector<Completion<std::string>> held;
    rt.register_tool(
      "stuck",
      AsyncToolHandler{[&](const ToolRequest&) -> Task<ToolResult> {
        auto start = [&](Completion<std::string> done) {
          std::lock_guard g{mu};
          held.push_back(std::move(done));
        };
        auto r = co_await wait_for<std::string>(std::move(start));
        co_return r ? *r : std::string{"made up after "} + code_of(r.error().code);
      }},
      ToolOptions{.timeout = 50ms});
    auto describe = [](const ToolResult& r) {
      return r ? "ok: " + *r : code_of(r.error().code) + ": " + r.error().message;
    };
    rt.register_handler("co", [&](AsyncTurn& t) -> Task<std::string> {
      auto r = co_await t.call_tool("stuck", "x");
      co_return describe(r);
    });
    rt.register_handler(
      "blocking", [&](Turn& t) { return describe(t.call_tool("stuck", "x")); },
      AgentOptions{.blocking = true});
    const std::string expected = "timeout: tool 'stuck' did not finish before its deadline";
    for (std::string agent : {"co", "blocking"}) {
      auto start = std::chrono::steady_clock::now();
      auto r = rt.ask({.agent = agent, .session_id = "s", .input = "x"});
      auto took = std::chrono::steady_clock::now() - start;
      CHECK(r.ok());
      CHECK(r.output == expected);
      CHECK(took >= 50ms);
      CHECK(took < 5s); // the tool's timeout, not the call's
    }
    // Completing the abandoned operations late changes nothing.
    std::lock_guard g{mu};
    CHECK(held.size() == 2);
    for (auto& done : held)
      done("late");
    CHECK(rt.describe({"co", "s"})->history_size == 4); // user, tool call, tool result, assistant
  });
}

TEST_CASE("ask_all with no requests completes at once with no replies", "[coroutine][subagents]") {
  run_with_time_limit(30s, "empty ask_all", [] {
    Runtime rt{config()};
    rt.register_handler("planner", [](AsyncTurn& t) -> Task<std::string> {
      std::vector<SubRequest> none;
      auto replies = co_await t.ask_all(std::move(none));
      co_return std::to_string(replies.size()) + " replies";
    });
    auto start = std::chrono::steady_clock::now();
    auto r = rt.ask({.agent = "planner", .session_id = "s", .input = "x"});
    CHECK(r.ok());
    CHECK(r.output == "0 replies");
    CHECK(std::chrono::steady_clock::now() - start < 5s);
  });
}

TEST_CASE("coroutine turns ask sub-agents in parallel without a thread",
          "[coroutine][subagents]") {
  run_with_time_limit(30s, "coroutine ask", [] {
    Runtime rt{config()};
    const std::vector<std::pair<std::string, int>> agents{{"flight", 150}, {"hotel", 100}, {"visa", 50}};
    for (const auto& agent : agents) {
      std::string name = agent.first;
      auto delay = std::chrono::milliseconds(agent.second);
      rt.register_handler(name, [name, delay](AsyncTurn& t) -> Task<std::string> {
        t.phase("searching");
        co_await t.sleep(delay);
        co_return name + " for " + t.input();
      });
    }
    rt.register_handler("planner", [](AsyncTurn& t) -> Task<std::string> {
      // g++ 12 cannot compile a braced list inside co_await: name the requests first.
      std::vector<SubRequest> asks{{"flight", t.input(), {}}, {"hotel", t.input(), {}},
                                   {"visa", t.input(), {}}};
      auto replies = co_await t.ask_all(std::move(asks));
      auto again = co_await t.ask("hotel", "again");
      std::string out;
      for (auto& r : replies)
        out += r.output + ", ";
      co_return out + again.output + " (hotel turn " + std::to_string(again.turn) + ")";
    });
    auto start = std::chrono::steady_clock::now();
    auto call = rt.invoke({.agent = "planner", .session_id = "trip", .input = "Rome"}).value();
    auto events = read_all(call);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
    CHECK(call.reply().output
          == "flight for Rome, hotel for Rome, visa for Rome, hotel for again (hotel turn 2)");
    CHECK(ms >= 150);
    CHECK(ms < 150 + 100 + 50 + 100); // in parallel: the slowest, not the sum
    int started = 0;
    int phases = 0;
    for (auto& e : events) {
      CHECK(e.call_id == call.id());
      started += e.kind == EventKind::started;
      phases += e.kind == EventKind::phase;
    }
    CHECK(started == 1);
    CHECK(phases == 4);
  });
}

TEST_CASE("sessions waiting on each other across two calls fail at once and name the cycle",
          "[coroutine][deadlock]") {
  run_with_time_limit(30s, "wait-for cycle", [] {
    Runtime rt{config()};
    // A and B each wait for the other, in two different calls of one conversation: A's
    // sub-call to B queues behind B's turn, which waits on A's, which waits on B.
    std::promise<void> a_waiting;
    rt.register_handler("A", [&](AsyncTurn& t) -> Task<std::string> {
      a_waiting.set_value();
      auto r = co_await t.ask("B", "from A");
      co_return "A got " + code_of(r.error) + (r.ok() ? ": " + r.output : "");
    });
    Gate b_gate;
    rt.register_handler(
      "B",
      [&](Turn& t) {
        if (t.input() == "from A")
          return std::string{"B answered A"};
        b_gate.arrived();
        b_gate.wait({});
        auto r = t.ask("A", "from B"); // A's session is running a turn that waits on B
        return "B got " + code_of(r.error) + ": " + r.message;
      },
      AgentOptions{.blocking = true});
    // B's turn starts first and waits at its gate; then A's turn asks B (queued behind B).
    auto b = rt.invoke({.agent = "B", .session_id = "conv", .input = "go"}).value();
    b_gate.wait_arrivals(1);
    auto a = rt.invoke({.agent = "A", .session_id = "conv", .input = "go"}).value();
    a_waiting.get_future().wait();
    eventually([&] { return rt.describe({"B", "conv"})->queue_depth == 1; });
    b_gate.open();
    auto rb = b.take();
    CHECK(rb.output
          == "B got reentrant_call: waiting on A/conv would close a cycle of sessions waiting on "
             "each other: B/conv -> A/conv -> B/conv");
    // B's refusal ended B's turn, so A's sub-call to B runs: no one waited for a timeout.
    CHECK(a.take().output == "A got ok: B answered A");
  });
}

TEST_CASE("the documented ways to await build and destroy each member once (g++ 12)",
          "[coroutine][compiler]") {
  run_with_time_limit(30s, "awaitable lifetimes", [] {
    Alive::count = 0;
    {
      Runtime rt{config()};
      rt.register_handler("co", [](AsyncTurn& t) -> Task<std::string> {
        Alive held;
        // g++ 12 destroys an aggregate or a capturing lambda written inside a co_await
        // expression twice. The documented forms: a named start function moved in, a named
        // awaitable, and awaitables the API returns (their arguments are not aggregates).
        auto first = [a = Alive{}](Completion<int> done) { done(1); };
        auto r1 = co_await t.wait_for<int>(std::move(first));
        auto second = wait_for<int>([a = Alive{}](Completion<int> done) { done(2); });
        auto r2 = co_await second;
        auto sleeper = t.sleep(1ms);
        co_await sleeper;
        co_await t.sleep(1ms);
        co_return std::to_string(r1.value() + r2.value());
      });
      CHECK(rt.ask({.agent = "co", .session_id = "s", .input = "x"}).output == "3");
    }
    CHECK(Alive::count.load() == 0); // a double destruction would drive it negative
  });
}
