// BlockingPool on its own: threads start when jobs need them, never more than asked for,
// and a job that waits on other pool work gets a thread for that work.

#include "runtime/blocking_pool.hpp"
#include "support/time_limit.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <thread>
#include <vector>

using agentrt::detail::BlockingPool;
using agentrt_test::run_with_time_limit;
using namespace std::chrono_literals;

namespace {

// A thread that finished its job goes back to wait a moment later; wait for that step.
void await_idle(const BlockingPool& pool, std::size_t n) {
  while (pool.idle_threads() != n)
    std::this_thread::yield();
}

} // namespace

TEST_CASE("a blocking pool starts no thread until a job needs one", "[pool]") {
  run_with_time_limit(30s, "lazy pool", [] {
    BlockingPool pool{16, 256};
    CHECK(pool.threads() == 0);
    std::promise<void> ran;
    pool.post([&] { ran.set_value(); });
    ran.get_future().get();
    CHECK(pool.threads() == 1);
    // The idle thread takes the next job: no second thread.
    for (int i = 0; i < 5; ++i) {
      await_idle(pool, 1);
      std::promise<void> again;
      pool.post([&] { again.set_value(); });
      again.get_future().get();
    }
    CHECK(pool.threads() == 1);
    CHECK(pool.stop(5s) == 0);
  });
}

TEST_CASE("a blocking pool runs base jobs at once and queues the rest", "[pool]") {
  run_with_time_limit(30s, "pool bound", [] {
    BlockingPool pool{4, 256};
    std::latch four_running{4};
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::atomic<int> started{0};
    for (int i = 0; i < 6; ++i)
      pool.post([&, gate] {
        started.fetch_add(1);
        four_running.count_down();
        gate.wait();
      });
    four_running.wait(); // four run together (the latch would hang with fewer)
    CHECK(started.load() == 4);
    CHECK(pool.threads() == 4);
    release.set_value();
    CHECK(pool.stop(5s) == 0);
  });
}

TEST_CASE("a waiting job gets a thread for the work it waits on", "[pool]") {
  run_with_time_limit(30s, "pool wait", [] {
    BlockingPool pool{1, 8};
    std::promise<void> inner_done;
    std::promise<void> outer_done;
    pool.post([&] {
      pool.begin_wait();
      std::promise<void> inner;
      pool.post([&] { inner.set_value(); });
      inner.get_future().get(); // would hang with one thread and no extra
      pool.end_wait();
      outer_done.set_value();
    });
    outer_done.get_future().get();
    CHECK(pool.threads() == 2);
    CHECK(pool.stop(5s) == 0);
  });
}
