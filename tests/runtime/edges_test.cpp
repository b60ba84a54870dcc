// The edges a black-box stress run found broken (issue 9): a factory running while its
// Runtime is destroyed, stores that throw, inline agents and busy policies, durations at
// their limits, owner mappings of unused sessions, one-shot sessions, sub-agent events.
// Every test body runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/log.hpp"
#include "support/stores.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::CountingSink;
using agentrt_test::eventually;
using agentrt_test::FaultyDurableStore;
using agentrt_test::FaultyMemoryStore;
using agentrt_test::Gate;
using agentrt_test::kinds_of;
using agentrt_test::logger_to;
using agentrt_test::read_all;
using agentrt_test::run_with_time_limit;
using agentrt_test::counter;

namespace {

RuntimeConfig small_config() {
  return agentrt_test::test_config();
}

} // namespace

// -- 1. the registry entry is owned, not borrowed ---------------------------------------------

TEST_CASE("a Runtime destroyed while an agent factory runs does not free the factory under it",
          "[edges][shutdown]") {
  run_with_time_limit(30s, "factory at shutdown", [] {
    Gate inside;
    Gate destroyed;
    std::string seen;
    std::atomic<bool> finished{false};
    {
      auto cfg = small_config();
      cfg.shutdown_drain = 50ms;
      Runtime rt{cfg};
      // The capture lives in the factory: if the registry is freed while the factory runs,
      // reading it afterwards reads freed memory (ASan reports it).
      std::string name(64, 'x');
      rt.register_agent(
        "slow",
        [name, &inside, &destroyed, &seen, &finished](const SessionKey&) {
          inside.arrived();
          destroyed.wait({});
          seen = name;
          finished = true;
          return std::unique_ptr<Agent>{};
        },
        AgentOptions{.blocking = true});
      auto call = rt.invoke({.agent = "slow", .session_id = "s", .input = "x"}).value();
      inside.wait_arrivals(1);
    } // the Runtime is destroyed while the factory waits
    destroyed.open();
    eventually([&] { return finished.load(); });
    CHECK(seen == std::string(64, 'x'));
  });
}

// -- 2. a store that throws ---------------------------------------------------------------------

TEST_CASE("a store whose load throws fails the call with store_failed and the session recovers",
          "[edges][store]") {
  run_with_time_limit(30s, "throwing load", [] {
    auto store = std::make_shared<FaultyMemoryStore>();
    auto logged = std::make_shared<CountingSink>("the session store threw in load(): load exploded");
    auto cfg = small_config();
    cfg.store = store;
    cfg.logger = logger_to(logged);
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    store->throw_load = true;
    auto first = rt.invoke({.agent = "counter", .session_id = "s", .input = "a"}).value();
    auto second = rt.invoke({.agent = "counter", .session_id = "s", .input = "b"}).value();
    CHECK(first.take().error == errc::store_failed);
    auto r2 = second.take();
    CHECK(r2.error == errc::store_failed);
    CHECK(r2.message
          == "the session store could not load the session: the session store threw in load(): "
             "load exploded");
    CHECK(logged->count() == 2);
    store->throw_load = false;
    auto r3 = rt.ask({.agent = "counter", .session_id = "s", .input = "c"});
    CHECK(r3.ok());
    CHECK(r3.output == "n=1");
    CHECK(rt.stats().calls_rejected == 2);
  });
}

TEST_CASE("a store whose erase throws fails close cleanly and the key stays usable",
          "[edges][store]") {
  run_with_time_limit(30s, "throwing erase", [] {
    auto store = std::make_shared<FaultyMemoryStore>();
    auto cfg = small_config();
    cfg.store = store;
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).ok());
    store->throw_erase = true;
    auto closed = rt.close({"counter", "s"}); // the erase fails; the tombstone is lifted
    REQUIRE_FALSE(closed);
    CHECK(closed.error().code == errc::store_failed);
    CHECK(closed.error().message
          == "the session store could not erase the session: the session store threw in "
             "erase(): erase exploded");
    store->throw_erase = false;
    auto r = rt.ask({.agent = "counter", .session_id = "s", .input = "b"});
    CHECK(r.ok());
    CHECK(r.output == "n=1");
  });
}

TEST_CASE("a store whose expired() throws does not stop its shard from expiring sessions",
          "[edges][store][expiry]") {
  run_with_time_limit(30s, "throwing expired", [] {
    auto store = std::make_shared<FaultyMemoryStore>();
    store->throw_expired = true;
    auto cfg = small_config();
    cfg.store = store;
    cfg.supervisor_shards = 1;
    cfg.idle_timeout = 30ms;
    cfg.max_lifetime = 20ms; // the store sweep runs on every sweep
    cfg.expiry_interval = 5ms;
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    eventually([&] { return store->expired_calls.load() >= 2; }); // it threw twice
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).ok());
    eventually([&] { return rt.stats().expirations == 1; });
    // The count goes up when the session leaves the directory; it stops being live when its
    // actor is gone, a moment later.
    eventually([&] { return rt.stats().live_sessions == 0; });
    CHECK(rt.stats().expirations == 1);
  });
}

TEST_CASE("a store whose put throws keeps the session live with its context",
          "[edges][store][expiry]") {
  run_with_time_limit(30s, "throwing put", [] {
    auto store = std::make_shared<FaultyMemoryStore>();
    store->throw_put = true;
    auto sink = std::make_shared<CountingSink>("could not hand the session to the store");
    auto cfg = small_config();
    cfg.store = store;
    cfg.supervisor_shards = 1;
    cfg.idle_timeout = 10ms;
    cfg.expiry_interval = 5ms;
    cfg.logger = logger_to(sink);
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).ok());
    eventually([&] { return sink->count() >= 2; }); // it tried to expire twice
    CHECK(rt.stats().expirations == 0);
    store->throw_put = false;
    eventually([&] { return rt.stats().expirations == 1; });
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "b"}).output == "n=2");
  });
}

TEST_CASE("a durable store whose commit throws fails the call with store_failed",
          "[edges][store]") {
  run_with_time_limit(30s, "throwing commit", [] {
    char tmpl[] = "/tmp/agentrt-edges-XXXXXX";
    std::filesystem::path dir = mkdtemp(tmpl);
    auto store = std::make_shared<FaultyDurableStore>(open_sqlite_store((dir / "s.db").string()));
    auto logged =
      std::make_shared<CountingSink>("[-/-] the session store threw in commit(): commit exploded");
    auto cfg = small_config();
    cfg.store = store;
    cfg.logger = logger_to(logged);
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).output == "n=1");
    store->throw_commit = true;
    auto failed = rt.ask({.agent = "counter", .session_id = "s", .input = "b"});
    CHECK(failed.error == errc::store_failed);
    CHECK(failed.message
          == "the session store could not save the turn: the session store threw in commit(): "
             "commit exploded");
    CHECK(logged->count() == 1);
    store->throw_commit = false;
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "c"}).output == "n=2");
    CHECK(rt.describe({"counter", "s"})->history_size == 4);
    rt.shutdown(1s);
    std::filesystem::remove_all(dir);
  });
}

// -- 3. inline agents go through the busy policies and the queue bound ------------------------

namespace {

/// An inline agent whose first turn holds its worker at a gate until the test opens it, so
/// the test can send calls while that turn runs.
struct HeldInline {
  Gate gate;
  std::atomic<int> turns{0};

  void install(Runtime& rt, std::optional<std::size_t> depth = std::nullopt) {
    rt.register_handler(
      "inline",
      [this](Turn& t) {
        if (turns.fetch_add(1) == 0) {
          gate.arrived();
          gate.wait({});
        }
        return "ran:" + t.input();
      },
      AgentOptions{.blocking = false, .max_queue_depth = depth});
  }
};

} // namespace

TEST_CASE("inline agent: calls with policy reject during a turn fail with session_busy",
          "[edges][inline][busy]") {
  run_with_time_limit(30s, "inline reject", [] {
    Runtime rt{small_config()};
    HeldInline held;
    held.install(rt);
    auto first = rt.invoke({.agent = "inline", .session_id = "s", .input = "first"}).value();
    held.gate.wait_arrivals(1);
    std::vector<Call> rejects;
    for (int i = 0; i < 10; ++i)
      rejects.push_back(rt.invoke(
        {.agent = "inline", .session_id = "s", .input = "r", .on_busy = BusyPolicy::reject}).value());
    held.gate.open();
    CHECK(first.take().output == "ran:first");
    for (auto& c : rejects) {
      auto r = c.take();
      CHECK(r.error == errc::session_busy);
      CHECK(r.turn == 0);
    }
    CHECK(held.turns.load() == 1);
    CHECK(rt.stats().calls_rejected == 10);
  });
}

TEST_CASE("inline agent: an interrupt during a turn interrupts it and keeps its output",
          "[edges][inline][busy]") {
  run_with_time_limit(30s, "inline interrupt", [] {
    Runtime rt{small_config()};
    HeldInline held;
    held.install(rt);
    auto first = rt.invoke({.agent = "inline", .session_id = "s", .input = "first"}).value();
    held.gate.wait_arrivals(1);
    auto queued = rt.invoke({.agent = "inline", .session_id = "s", .input = "queued"}).value();
    auto urgent = rt.invoke(
      {.agent = "inline", .session_id = "s", .input = "urgent", .on_busy = BusyPolicy::interrupt}).value();
    held.gate.open();
    auto r1 = first.take();
    CHECK(r1.error == errc::interrupted);
    CHECK(r1.output == "ran:first");
    CHECK(r1.turn == 1);
    CHECK(urgent.take().turn == 2); // ahead of the ordinary call queued before it
    CHECK(queued.take().turn == 3);
  });
}

TEST_CASE("inline agent: a rollback during a turn discards it and its input",
          "[edges][inline][busy]") {
  run_with_time_limit(30s, "inline rollback", [] {
    Runtime rt{small_config()};
    HeldInline held;
    held.install(rt);
    auto first = rt.invoke({.agent = "inline", .session_id = "s", .input = "first"}).value();
    held.gate.wait_arrivals(1);
    auto again = rt.invoke(
      {.agent = "inline", .session_id = "s", .input = "again", .on_busy = BusyPolicy::rollback}).value();
    held.gate.open();
    CHECK(first.take().error == errc::rolled_back);
    auto r = again.take();
    CHECK(r.turn == 1);
    auto info = rt.describe({"inline", "s"});
    REQUIRE(info);
    CHECK(info->history_size == 2); // only "again" and its reply
  });
}

TEST_CASE("inline agent: the queue bound holds while a turn runs", "[edges][inline][busy]") {
  run_with_time_limit(30s, "inline bound", [] {
    Runtime rt{small_config()};
    HeldInline held;
    held.install(rt, 4);
    auto first = rt.invoke({.agent = "inline", .session_id = "s", .input = "first"}).value();
    held.gate.wait_arrivals(1);
    std::vector<Call> calls;
    for (int i = 0; i < 10; ++i)
      calls.push_back(rt.invoke({.agent = "inline", .session_id = "s", .input = std::to_string(i)}).value());
    held.gate.open();
    CHECK(first.take().turn == 1);
    std::vector<std::uint64_t> turns;
    int overloaded = 0;
    for (auto& c : calls) {
      auto r = c.take();
      if (r.error == errc::overloaded)
        ++overloaded;
      else
        turns.push_back(r.turn);
    }
    CHECK(turns == std::vector<std::uint64_t>{2, 3, 4, 5}); // the first four, in order
    CHECK(overloaded == 6);
    CHECK(held.turns.load() == 5);
  });
}

TEST_CASE("inline agent: a flood during a turn is bounded and counted as queued",
          "[edges][inline][busy]") {
  run_with_time_limit(60s, "inline flood", [] {
    auto cfg = small_config();
    cfg.max_queue_depth = 64;
    Runtime rt{cfg};
    HeldInline held;
    held.install(rt);
    auto first = rt.invoke({.agent = "inline", .session_id = "s", .input = "first"}).value();
    held.gate.wait_arrivals(1);
    std::vector<Call> calls;
    calls.reserve(20000);
    for (int i = 0; i < 20000; ++i)
      calls.push_back(rt.invoke({.agent = "inline", .session_id = "s", .input = "x"}).value());
    held.gate.open();
    first.take();
    int ok = 0;
    int overloaded = 0;
    for (auto& c : calls) {
      auto r = c.take();
      ok += r.ok();
      overloaded += r.error == errc::overloaded;
    }
    CHECK(ok == 64);
    CHECK(overloaded == 20000 - 64);
    CHECK(rt.stats().queued_calls == 0);
    CHECK(rt.stats().turns_completed == 65);
  });
}

TEST_CASE("inline agent: a queued call's timeout is reported at its deadline and not at its turn",
          "[edges][inline][timeout]") {
  run_with_time_limit(30s, "inline timeout", [] {
    using Clock = std::chrono::steady_clock;
    Runtime rt{small_config()};
    Gate gate;
    std::mutex mu;
    std::vector<Clock::time_point> starts; // when each turn began
    rt.register_handler("inline", [&](Turn& t) {
      std::size_t n;
      {
        std::lock_guard g{mu};
        starts.push_back(Clock::now());
        n = starts.size();
      }
      if (n == 1) {
        gate.arrived();
        gate.wait({});
      } else {
        auto until = Clock::now() + 5ms; // real work: the worker is busy
        while (Clock::now() < until) {
        }
      }
      return t.input();
    });
    auto first = rt.invoke({.agent = "inline", .session_id = "s", .input = "first"}).value();
    gate.wait_arrivals(1);
    std::vector<Call> ahead;
    for (int i = 0; i < 20; ++i)
      ahead.push_back(rt.invoke({.agent = "inline", .session_id = "s", .input = "x"}).value());
    auto waiting = rt.invoke({.agent = "inline", .session_id = "s", .input = "w", .timeout = 20ms}).value();
    auto deadline = Clock::now() + 20ms; // at or after the call's own deadline
    gate.open();
    auto r = waiting.take();
    auto reported = Clock::now();
    CHECK(r.error == errc::timeout);
    for (auto& c : ahead)
      CHECK(c.take().ok());
    std::lock_guard g{mu};
    REQUIRE(starts.size() == 21); // the waiting call never ran
    // Turns are 5 ms of work each; the timeout must not wait for its place in the queue (20
    // turns, 100 ms): the turn running at the deadline ends first, and one more may start
    // while the timer's message is on its way.
    auto late_starts = std::count_if(starts.begin(), starts.end(), [&](auto t) {
      return t > deadline && t < reported;
    });
    CHECK(late_starts <= 2);
  });
}

// -- 4. durations at their limits -------------------------------------------------------------

TEST_CASE("a max_lifetime of milliseconds::max() never erases a session", "[edges][config]") {
  run_with_time_limit(30s, "max lifetime", [] {
    auto cfg = small_config();
    cfg.supervisor_shards = 1;
    cfg.idle_timeout = 10ms;
    cfg.expiry_interval = 5ms;
    cfg.max_lifetime = std::chrono::milliseconds::max();
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).output == "n=1");
    eventually([&] { return rt.stats().expirations == 1; }); // idle: handed to the store
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "b"}).output == "n=2");
  });
}

TEST_CASE("an idle_timeout of milliseconds::max() never expires a session", "[edges][config]") {
  run_with_time_limit(30s, "max idle", [] {
    auto sink = std::make_shared<CountingSink>("sweep:");
    auto cfg = small_config();
    cfg.supervisor_shards = 1;
    cfg.expiry_interval = 2ms;
    cfg.idle_timeout = std::chrono::milliseconds::max();
    cfg.logger = logger_to(sink);
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).ok());
    auto seen = sink->count();
    eventually([&] { return sink->count() >= seen + 5; }); // five sweeps looked at it
    CHECK(rt.stats().expirations == 0);
    CHECK(rt.stats().live_sessions == 1);
  });
}

TEST_CASE("an expiry_interval of milliseconds::max() does not sweep at all", "[edges][config]") {
  run_with_time_limit(30s, "max interval", [] {
    auto sink = std::make_shared<CountingSink>("sweep:");
    auto cfg = small_config();
    cfg.expiry_interval = std::chrono::milliseconds::max();
    cfg.logger = logger_to(sink);
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "a"}).ok());
    std::this_thread::sleep_for(100ms); // what must not happen needs time to not happen
    CHECK(sink->count() == 0);
  });
}

TEST_CASE("durations beyond a century are saturated and do not overflow", "[edges][config]") {
  run_with_time_limit(30s, "saturation", [] {
    auto cfg = small_config();
    cfg.default_timeout = std::chrono::milliseconds::max();
    cfg.shutdown_drain = std::chrono::milliseconds::max();
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    rt.register_tool(
      "t", [](const ToolRequest& r) -> ToolResult { return r.arguments; },
      ToolOptions{.blocking = false, .timeout = std::chrono::milliseconds::max()});
    rt.register_handler("uses_tool", [](Turn& t) { return t.call_tool("t", "x").value(); });
    auto r = rt.ask({.agent = "counter", .session_id = "s", .input = "a",
                      .timeout = std::chrono::milliseconds::max()});
    CHECK(r.ok());
    CHECK(rt.ask({.agent = "uses_tool", .session_id = "s", .input = "a"}).output == "x");
    rt.shutdown(std::chrono::milliseconds::max()); // nothing runs: returns at once
    CHECK(rt.stats().live_sessions == 0);
  });
}

// -- 5. owner mappings expire with their session's lifetime ------------------------------------

namespace {

void owner_mapping_expires(RuntimeConfig cfg) {
  cfg.supervisor_shards = 1;
  cfg.idle_timeout = 10ms;
  cfg.max_lifetime = 30ms;
  cfg.expiry_interval = 5ms;
  Runtime rt{cfg};
  rt.register_handler("counter", counter);
  auto first = rt.session_for("counter", "alice");
  REQUIRE(first);
  CHECK(first->created);
  // Never called: the mapping is all there is. Past max_lifetime the owner gets a new id.
  eventually([&] { return rt.session_for("counter", "alice")->session_id != first->session_id; });
  auto later = rt.session_for("counter", "alice");
  CHECK_FALSE(later->created); // minted by the call that saw the change
}

} // namespace

TEST_CASE("an owner's unused session id expires with max_lifetime (memory store)",
          "[edges][owners]") {
  run_with_time_limit(30s, "owner expiry memory", [] { owner_mapping_expires(small_config()); });
}

TEST_CASE("an owner's unused session id expires with max_lifetime (SQLite store)",
          "[edges][owners][sqlite]") {
  run_with_time_limit(30s, "owner expiry sqlite", [] {
    char tmpl[] = "/tmp/agentrt-edges-XXXXXX";
    std::filesystem::path dir = mkdtemp(tmpl);
    {
      auto cfg = small_config();
      cfg.store_path = (dir / "s.db").string();
      owner_mapping_expires(cfg);
    }
    std::filesystem::remove_all(dir);
  });
}

// -- suspected, and confirmed ---------------------------------------------------------------------

TEST_CASE("a one-shot session ends with its call and keeps nothing", "[edges][one-shot]") {
  run_with_time_limit(30s, "one-shot", [] {
    Runtime rt{small_config()};
    rt.register_handler("counter", counter);
    auto r = rt.ask({.agent = "counter", .input = "a"});
    CHECK(r.output == "n=1");
    eventually([&] { return rt.stats().live_sessions == 0; });
    CHECK(rt.stats().expirations == 0); // ended, not expired
    // Its id names that one call: calling it again starts afresh.
    CHECK(rt.ask({.agent = "counter", .session_id = r.session_id, .input = "b"}).output
          == "n=1");
  });
}

TEST_CASE("sub-agent events on the parent's stream keep the parent's grammar",
          "[edges][events]") {
  run_with_time_limit(30s, "sub-agent grammar", [] {
    Runtime rt{small_config()};
    rt.register_handler("child", [](Turn& t) {
      t.phase("looking");
      t.emit("c");
      return std::string{"child"};
    });
    rt.register_handler(
      "parent", [](Turn& t) { return t.ask("child", "x").output; },
      AgentOptions{.blocking = true});
    auto call = rt.invoke({.agent = "parent", .session_id = "s", .input = "x"}).value();
    auto events = read_all(call);
    CHECK(kinds_of(events)
          == std::vector<EventKind>{EventKind::started, EventKind::phase, EventKind::chunk,
                                    EventKind::completed});
    CHECK(events[0].agent == "parent");
    CHECK(events[1].agent == "child");
    CHECK(events[2].agent == "child");
    CHECK(events[3].agent == "parent");
    for (std::size_t i = 0; i < events.size(); ++i)
      CHECK(events[i].seq == i + 1);
  });
}

TEST_CASE("a session erased for its lifetime does not hold up calls to other sessions",
          "[edges][expiry]") {
  run_with_time_limit(60s, "lifetime erase", [] {
    auto store = std::make_shared<FaultyMemoryStore>();
    store->slow_erase = SessionKey{"counter", "old"};
    auto cfg = small_config();
    cfg.store = store;
    cfg.supervisor_shards = 1;
    cfg.idle_timeout = std::chrono::hours(1);
    cfg.max_lifetime = 30ms;
    cfg.expiry_interval = 5ms;
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "old", .input = "a"}).output == "n=1");
    store->erase_gate.wait_arrivals(1); // its lifetime is over: its erase has begun, and waits
    // Calls to many other sessions (some share the old session's directory shard) go
    // through while that erase waits.
    std::vector<Call> calls;
    for (int i = 0; i < 1000; ++i)
      calls.push_back(
        rt.invoke({.agent = "counter", .session_id = "k" + std::to_string(i), .input = "x"}).value());
    int ok = 0;
    for (auto& c : calls)
      ok += c.take().output == "n=1";
    CHECK(ok == 1000);
    store->erase_gate.open();
    // It ended for its lifetime: the next call starts a new conversation.
    eventually([&] { return !rt.describe({"counter", "old"}); });
    CHECK(rt.ask({.agent = "counter", .session_id = "old", .input = "b"}).output == "n=1");
  });
}

TEST_CASE("describe and close refuse a malformed key with the code a call would get",
          "[runtime][errors]") {
  Runtime rt{agentrt_test::test_config()};
  rt.register_handler("echo", [](Turn& t) { return t.input(); });
  REQUIRE(rt.ask({.agent = "echo", .session_id = "s1", .input = "x"}).ok());

  auto bad_id = rt.describe({"echo", "bad id"});
  REQUIRE_FALSE(bad_id);
  CHECK(bad_id.error().code == errc::invalid_session_id);
  auto no_agent = rt.describe({"nobody", "s1"});
  REQUIRE_FALSE(no_agent);
  CHECK(no_agent.error().code == errc::unknown_agent);
  auto close_bad = rt.close({"echo", ""});
  REQUIRE_FALSE(close_bad);
  CHECK(close_bad.error().code == errc::invalid_session_id);
  auto close_no_agent = rt.close({"nobody", "s1"});
  REQUIRE_FALSE(close_no_agent);
  CHECK(close_no_agent.error().code == errc::unknown_agent);
  // Nothing changed: the good session is live and has its one turn.
  auto info = rt.describe({"echo", "s1"});
  REQUIRE(info);
  CHECK(info->turns == 1);
  CHECK(rt.stats().live_sessions == 1);
}
