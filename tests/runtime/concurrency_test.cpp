// The guarantees under real concurrency: single-flight creation, serialized turns with
// per-caller FIFO, isolated streams, and no call lost while sessions expire.

#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::run_with_time_limit;

namespace {

RuntimeConfig config(std::size_t blocking_threads = 4) {
  return agentrt_test::test_config(blocking_threads);
}

} // namespace

TEST_CASE("1000 threads racing to create one session get one session and one agent",
          "[concurrency]") {
  run_with_time_limit(60s, "1000 racing threads", [] {
    auto cfg = config();
    cfg.max_queue_depth = 1000; // every call may wait: this is about the race, not the bound
    Runtime rt{cfg};
    std::atomic<int> factory_runs{0};
    rt.register_agent("chat", [&](const SessionKey&) {
      factory_runs.fetch_add(1);
      struct Counter final : Agent {
        std::string handle(Turn& t) override {
          return std::to_string(t.number());
        }
      };
      return std::make_unique<Counter>();
    });
    constexpr int n = 1000;
    std::latch go{n};
    std::vector<Reply> replies(n);
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        replies[i] = rt.ask({.agent = "chat", .session_id = "user-1", .input = "hi"});
      });
    for (auto& t : threads)
      t.join();
    CHECK(factory_runs.load() == 1);
    std::set<std::uint64_t> turns;
    for (auto& r : replies) {
      REQUIRE(r.ok());
      turns.insert(r.turn);
    }
    CHECK(turns.size() == n); // every call ran exactly once, in one history
    CHECK(*turns.begin() == 1);
    CHECK(*turns.rbegin() == n);
    auto s = rt.stats();
    CHECK(s.activations == 1);
    CHECK(s.live_sessions == 1);
    CHECK(rt.describe({"chat", "user-1"})->history_size == 2 * n);
  });
}

TEST_CASE("10,000 concurrent calls on one session run one at a time, FIFO per caller",
          "[concurrency]") {
  run_with_time_limit(60s, "10k calls on one session", [] {
    auto cfg = config();
    cfg.max_queue_depth = 10'000; // every call may wait: this is about order, not the bound
    Runtime rt{cfg};
    std::atomic<bool> inside{false};
    std::atomic<int> reentered{0};
    std::vector<std::pair<int, int>> order; // (caller, seq) as the handler saw them
    rt.register_handler("counter", [&](Turn& t) {
      if (inside.exchange(true))
        reentered.fetch_add(1);
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      order.emplace_back(std::stoi(std::string{t.param("caller")}),
                         std::stoi(std::string{t.param("seq")}));
      inside.store(false);
      return std::to_string(n);
    });
    constexpr int callers = 10;
    constexpr int per_caller = 1000;
    std::vector<std::vector<Call>> calls(callers);
    std::latch go{callers};
    std::vector<std::thread> threads;
    for (int c = 0; c < callers; ++c)
      threads.emplace_back([&, c] {
        go.arrive_and_wait();
        for (int i = 0; i < per_caller; ++i)
          calls[c].push_back(rt.invoke({.agent = "counter",
                                        .session_id = "hot",
                                        .input = "x",
                                        .params = {{"caller", std::to_string(c)},
                                                   {"seq", std::to_string(i)}}}).value());
      });
    for (auto& t : threads)
      t.join();
    std::set<std::uint64_t> turns;
    for (auto& per : calls)
      for (auto& call : per) {
        REQUIRE(call.reply().ok());
        turns.insert(call.reply().turn);
      }
    CHECK(turns.size() == callers * per_caller);
    CHECK(reentered.load() == 0);
    CHECK(rt.ask({.agent = "counter", .session_id = "hot", .input = "x",
                   .params = {{"caller", "0"}, {"seq", "1000"}}})
            .output
          == std::to_string(callers * per_caller + 1));
    REQUIRE(order.size() == callers * per_caller + 1);
    std::vector<int> last(callers, -1);
    int out_of_order = 0;
    for (auto [caller, seq] : order) {
      if (seq <= last[caller])
        ++out_of_order;
      last[caller] = seq;
    }
    CHECK(out_of_order == 0);
  });
}

TEST_CASE("10 streaming sessions with 1 s blocking handlers stay isolated and run in parallel",
          "[concurrency][stream]") {
  run_with_time_limit(60s, "10 parallel streams", [] {
    Runtime rt{config(16)};
    rt.register_handler(
      "llm",
      [](Turn& t) {
        for (int i = 0; i < 10; ++i) {
          std::this_thread::sleep_for(100ms); // a slow model, 1 s per turn
          t.emit(t.session_id() + ":" + std::to_string(i));
        }
        return "answer for " + t.session_id();
      },
      AgentOptions{.blocking = true});
    constexpr int n = 10;
    std::vector<Call> calls;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
      calls.push_back(rt.invoke({.agent = "llm", .session_id = "user-" + std::to_string(i),
                                 .input = "plan my trip"}).value());
    std::vector<std::vector<Event>> streams(n);
    std::vector<std::thread> readers;
    for (int i = 0; i < n; ++i)
      readers.emplace_back([&, i] {
        while (auto e = calls[i].next_event())
          streams[i].push_back(std::move(*e));
      });
    for (auto& r : readers)
      r.join();
    auto wall = std::chrono::steady_clock::now() - start;
    for (int i = 0; i < n; ++i) {
      auto sid = "user-" + std::to_string(i);
      auto& events = streams[i];
      REQUIRE(events.size() == 12); // started, 10 chunks, completed
      CHECK(events.front().kind == EventKind::started);
      CHECK(events.back().kind == EventKind::completed);
      CHECK(events.back().data == "answer for " + sid);
      for (std::size_t k = 0; k < events.size(); ++k) {
        CHECK(events[k].session_id == sid);
        CHECK(events[k].call_id == calls[i].id());
        CHECK(events[k].seq == k + 1);
      }
      for (int k = 0; k < 10; ++k)
        CHECK(events[k + 1].data == sid + ":" + std::to_string(k));
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall).count();
    std::printf("10 streaming sessions x 1 s handler: wall time %lld ms\n",
                static_cast<long long>(ms));
    CHECK(ms < 3000); // serial would be 10 s
  });
}

TEST_CASE("no call is lost or doubled while sessions expire under traffic",
          "[concurrency][expiry]") {
  run_with_time_limit(60s, "expiry under traffic", [] {
    auto cfg = config();
    cfg.idle_timeout = 15ms;
    cfg.expiry_interval = 2ms;
    Runtime rt{cfg};
    std::atomic<int> runs{0};
    rt.register_handler("echo", [&](Turn& t) {
      runs.fetch_add(1);
      return t.input();
    });
    constexpr int threads_n = 4;
    constexpr int per_thread = 300;
    std::atomic<int> ok{0};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
      threads.emplace_back([&, t] {
        std::mt19937 rng(t);
        for (int i = 0; i < per_thread; ++i) {
          auto sid = "s" + std::to_string(rng() % 8);
          auto input = std::to_string(t) + "/" + std::to_string(i);
          auto r = rt.ask({.agent = "echo", .session_id = sid, .input = input});
          (r.ok() && r.output == input ? ok : wrong).fetch_add(1);
          if (rng() % 10 == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40)); // go idle
        }
      });
    for (auto& t : threads)
      t.join();
    // Let the last sessions expire too, so every activation is matched by an expiration.
    while (rt.stats().live_sessions != 0)
      std::this_thread::sleep_for(1ms);
    auto s = rt.stats();
    std::printf("expiry under traffic: %llu expirations, %llu activations for %d calls\n",
                static_cast<unsigned long long>(s.expirations),
                static_cast<unsigned long long>(s.activations), threads_n * per_thread);
    CHECK(ok.load() == threads_n * per_thread);
    CHECK(wrong.load() == 0);
    CHECK(runs.load() == threads_n * per_thread); // each call ran exactly once
    CHECK(s.turns_completed == static_cast<std::uint64_t>(threads_n * per_thread));
    CHECK(s.expirations > 0);
    CHECK(s.activations == s.expirations);
  });
}

TEST_CASE("many sessions under concurrent load never see each other's state",
          "[concurrency]") {
  run_with_time_limit(60s, "isolation", [] {
    Runtime rt{config()};
    rt.register_handler("acc", [](Turn& t) {
      auto mine = t.state().get_or("owner", t.session_id());
      if (mine != t.session_id())
        return std::string{"LEAK"};
      t.state().set("owner", t.session_id());
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      return std::to_string(n);
    });
    constexpr int sessions = 100;
    constexpr int per_session = 50;
    std::vector<std::thread> threads;
    std::atomic<int> leaks{0};
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        std::vector<Call> calls;
        for (int i = t; i < sessions * per_session; i += 8)
          calls.push_back(
            rt.invoke({.agent = "acc", .session_id = "u" + std::to_string(i % sessions),
                       .input = "x"}).value());
        for (auto& c : calls)
          if (c.reply().output == "LEAK" || !c.reply().ok())
            leaks.fetch_add(1);
      });
    for (auto& t : threads)
      t.join();
    CHECK(leaks.load() == 0);
    for (int i = 0; i < sessions; ++i) {
      auto r = rt.ask({.agent = "acc", .session_id = "u" + std::to_string(i), .input = "x"});
      CHECK(r.output == std::to_string(per_session + 1));
    }
  });
}
