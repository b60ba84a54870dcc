// Bounded history with compaction (AgentOptions::history_limit, AgentOptions::compactor):
// exact entry counts and contents over many turns, a failing compactor, a coroutine
// compactor that waits, expiry and a restart. Every test body runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::eventually;
using agentrt_test::run_with_time_limit;

namespace {

RuntimeConfig config() {
  return agentrt_test::test_config();
}

std::string counter(Turn& t) {
  auto n = std::stoi(t.state().get_or("n", "0")) + 1;
  t.state().set("n", std::to_string(n));
  return "n=" + std::to_string(n) + " saw " + std::to_string(t.history().size());
}

/// The history size after each turn under the documented rule: past `max`, the oldest
/// entries are folded until at most max / 2 are left (plus a summary, when there is one).
std::size_t next_size(std::size_t committed, std::size_t max, bool summary) {
  auto total = committed + 2;
  if (total <= max)
    return total;
  std::size_t count = 0;
  while (count < committed && total - count + (summary && count > 0 ? 1 : 0) > max / 2)
    ++count;
  if (summary && count < 2)
    return total;
  return total - count + (summary ? 1 : 0);
}

/// A summary that names what it folded: "summary(<n>: <first> .. <last>)".
Task<Result<std::string>> summarize(const Compaction& c) {
  co_return "summary(" + std::to_string(c.entries.size()) + ": " + c.entries.front().content
    + " .. " + c.entries.back().content + ")";
}

std::filesystem::path temp_dir() {
  char tmpl[] = "/tmp/agentrt-compaction-XXXXXX";
  return mkdtemp(tmpl);
}

} // namespace

TEST_CASE("a history limit without a compactor drops the oldest entries over 1000 turns",
          "[compaction]") {
  run_with_time_limit(60s, "drop oldest", [] {
    Runtime rt{config()};
    rt.register_handler("counter", counter, AgentOptions{.history_limit = {.max_entries = 10}});
    std::size_t expected = 0;
    std::size_t most_seen = 0;
    for (int i = 1; i <= 1000; ++i) {
      auto r = rt.ask({.agent = "counter", .session_id = "s", .input = "in" + std::to_string(i)});
      REQUIRE(r.ok());
      expected = next_size(expected, 10, false);
      auto page = rt.history({"counter", "s"});
      REQUIRE(page->total == expected);
      REQUIRE(page->entries.back().content == "n=" + std::to_string(i) + " saw "
                                                + r.output.substr(r.output.find("saw ") + 4));
      most_seen = std::max(most_seen, page->total);
    }
    CHECK(most_seen == 10);
    auto page = rt.history({"counter", "s"});
    CHECK(page->turns == 1000);
    // The newest entries, in order: the last turn's input and output come last.
    CHECK(page->entries[page->entries.size() - 2].content == "in1000");
    CHECK(page->entries.back().content.rfind("n=1000 saw ", 0) == 0);
  });
}

TEST_CASE("a coroutine compactor that waits folds the oldest entries into one summary",
          "[compaction][coroutine]") {
  run_with_time_limit(60s, "coroutine compactor", [] {
    Runtime rt{config()};
    std::atomic<int> compactions{0};
    AgentOptions options;
    options.history_limit.max_entries = 8;
    options.compactor = [&](const Compaction& c) -> Task<Result<std::string>> {
      compactions.fetch_add(1);
      auto start = [](Completion<int> done) { // a model call, say: completed on its thread
        std::thread{[done] {
          std::this_thread::sleep_for(1ms);
          done(1);
        }}.detach();
      };
      auto waited = co_await wait_for<int>(std::move(start));
      if (!waited)
        co_return waited.error();
      co_return "summary of " + std::to_string(c.entries.size()) + " from " + c.entries.front().content;
    };
    rt.register_handler(
      "chat",
      [](AsyncTurn& t) -> Task<std::string> {
        co_await t.sleep(1ms);
        co_return "saw " + std::to_string(t.history().size());
      },
      options);
    std::size_t expected = 0;
    std::size_t largest_seen_by_handler = 0;
    int folds = 0;
    for (int i = 1; i <= 1000; ++i) {
      auto r = rt.ask({.agent = "chat", .session_id = "s", .input = "q" + std::to_string(i)});
      REQUIRE(r.ok());
      largest_seen_by_handler = std::max<std::size_t>(largest_seen_by_handler, std::stoul(r.output.substr(4)));
      folds += expected + 2 > 8;
      expected = next_size(expected, 8, true);
      REQUIRE(rt.history({"chat", "s"})->total == expected);
    }
    CHECK(largest_seen_by_handler <= 8); // handlers see the bounded history
    auto page = rt.history({"chat", "s"});
    REQUIRE(page->entries.front().role == Role::system);
    CHECK(page->entries.front().name == "summary");
    CHECK(page->entries.front().content.rfind("summary of ", 0) == 0);
    CHECK(page->entries.back().content.rfind("saw ", 0) == 0);
    CHECK(page->entries[page->entries.size() - 2].content == "q1000");
    CHECK(page->turns == 1000);
    CHECK(compactions.load() == folds); // once per few turns (332 here), never on each
    CHECK(folds == 332);
  });
}

TEST_CASE("a failing compactor leaves the history as it was and fails nothing",
          "[compaction][errors]") {
  run_with_time_limit(30s, "failing compactor", [] {
    Runtime rt{config()};
    std::atomic<int> calls{0};
    AgentOptions options;
    options.blocking = true;
    options.history_limit.max_entries = 4;
    options.compactor = [&](const Compaction& c) -> Task<Result<std::string>> {
      auto n = calls.fetch_add(1);
      if (n == 0)
        co_return Error{errc::agent_failed, "model unavailable"};
      if (n == 1)
        throw std::runtime_error("compactor bug");
      co_return "summary of " + std::to_string(c.entries.size());
    };
    rt.register_handler("counter", counter, options);
    for (int i = 1; i <= 2; ++i)
      REQUIRE(rt.ask({.agent = "counter", .session_id = "s", .input = "x"}).ok());
    CHECK(rt.history({"counter", "s"})->total == 4);
    // Turn 3 is over the bound: the compactor fails; the turn commits, nothing is folded.
    auto third = rt.ask({.agent = "counter", .session_id = "s", .input = "x"});
    CHECK(third.ok());
    CHECK(rt.history({"counter", "s"})->total == 6);
    // Turn 4: the compactor throws; the same.
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "x"}).ok());
    CHECK(rt.history({"counter", "s"})->total == 8);
    // Turn 5: it works: 8 committed + 2 new, folded to 2 (half the bound) with the summary.
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "x"}).ok());
    auto page = rt.history({"counter", "s"});
    CHECK(page->total == 2 + 1);
    CHECK(page->entries[0].content == "summary of 8");
    CHECK(page->turns == 5);
    CHECK(*rt.state({"counter", "s"}) == StateMap{{"n", "5"}});
    CHECK(calls.load() == 3);
  });
}

TEST_CASE("a compacted history survives expiry and a restart", "[compaction][sqlite][expiry]") {
  run_with_time_limit(60s, "compaction durable", [] {
    auto dir = temp_dir();
    auto cfg = config();
    cfg.store_path = (dir / "s.db").string();
    cfg.idle_timeout = 20ms;
    cfg.expiry_interval = 5ms;
    AgentOptions options;
    options.blocking = true;
    options.history_limit.max_entries = 6;
    options.compactor = summarize;
    std::vector<std::string> before;
    {
      Runtime rt{cfg};
      rt.register_handler("counter", counter, options);
      std::size_t expected = 0;
      for (int i = 1; i <= 40; ++i) {
        REQUIRE(rt.ask({.agent = "counter", .session_id = "s", .input = "in" + std::to_string(i)}).ok());
        expected = next_size(expected, 6, true);
      }
      eventually([&] { return rt.stats().live_sessions == 0; }); // expired
      auto page = rt.history({"counter", "s"});
      REQUIRE(page->total == expected);
      for (auto& m : page->entries)
        before.push_back(m.content);
      CHECK(before.front().rfind("summary(", 0) == 0);
      // It comes back compacted, and goes on.
      auto r = rt.ask({.agent = "counter", .session_id = "s", .input = "in41"});
      CHECK(r.output == "n=41 saw " + std::to_string(expected));
    }
    {
      Runtime rt{cfg};
      rt.register_handler("counter", counter, options);
      auto page = rt.history({"counter", "s"});
      REQUIRE(page);
      CHECK(page->turns == 41);
      CHECK(page->total <= 6);
      CHECK(page->entries.back().content.rfind("n=41 saw ", 0) == 0);
      auto r = rt.ask({.agent = "counter", .session_id = "s", .input = "in42"});
      CHECK(r.output == "n=42 saw " + std::to_string(page->total));
    }
    std::filesystem::remove_all(dir);
  });
}

TEST_CASE("an inline agent cannot have a compactor", "[compaction][errors]") {
  Runtime rt{config()};
  AgentOptions options;
  options.history_limit.max_entries = 4;
  options.compactor = summarize;
  CHECK_THROWS_WITH(rt.register_handler("inline", counter, options),
                    "agentrt: agent type 'inline' has a compactor, which may wait: register it "
                    "as blocking, or as a coroutine agent");
}

TEST_CASE("a deadline or an urgent call during compaction stops the compactor and the turn commits",
          "[compaction][timeout]") {
  run_with_time_limit(30s, "compaction stopped", [] {
    Runtime rt{config()};
    // A compactor whose model never answers: only a stop ends its await.
    std::mutex mu;
    std::vector<Completion<std::string>> held;
    std::promise<void> compacting;
    std::atomic<bool> told{false};
    auto stuck = [&](const Compaction&) -> Task<Result<std::string>> {
      auto start = [&](Completion<std::string> done) {
        std::lock_guard g{mu};
        held.push_back(std::move(done));
      };
      if (!told.exchange(true))
        compacting.set_value();
      auto r = co_await wait_for<std::string>(std::move(start));
      co_return r;
    };
    AgentOptions blocking;
    blocking.blocking = true;
    blocking.history_limit.max_entries = 2;
    blocking.compactor = stuck;
    rt.register_handler("b", counter, blocking);
    AgentOptions coroutine;
    coroutine.history_limit.max_entries = 2;
    coroutine.compactor = stuck;
    rt.register_handler(
      "c", [](AsyncTurn& t) -> Task<std::string> { co_return "ok " + t.input(); }, coroutine);
    // Blocking: the call's timeout passes while the compactor waits.
    REQUIRE(rt.ask({.agent = "b", .session_id = "s", .input = "1"}).ok());
    auto r = rt.ask({.agent = "b", .session_id = "s", .input = "2", .timeout = 200ms});
    CHECK(r.ok());
    CHECK(r.output == "n=2 saw 2");
    CHECK(rt.history({"b", "s"})->total == 4); // committed, not folded
    // Coroutine: an interrupting call arrives while the compactor waits.
    told = false;
    compacting = std::promise<void>{};
    auto started = compacting.get_future();
    REQUIRE(rt.ask({.agent = "c", .session_id = "s", .input = "1"}).ok());
    auto first = rt.invoke({.agent = "c", .session_id = "s", .input = "2"}).value();
    started.wait();
    // Its own turn compacts too; its deadline stops that compactor (the coroutine case).
    auto urgent = rt.invoke({.agent = "c",
                             .session_id = "s",
                             .input = "3",
                             .on_busy = BusyPolicy::interrupt,
                             .timeout = 300ms})
                    .value();
    auto r1 = first.take();
    CHECK(r1.ok()); // completed, not interrupted: its handler had finished
    CHECK(r1.output == "ok 2");
    auto r3 = urgent.take();
    CHECK(r3.ok());
    CHECK(r3.output == "ok 3");
    CHECK(rt.stats().turns_cancelled == 0);
    CHECK(rt.history({"c", "s"})->total == 6); // three turns, none folded
    std::lock_guard g{mu};
    for (auto& done : held)
      done("late"); // changes nothing
  });
}
