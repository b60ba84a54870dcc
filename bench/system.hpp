#pragma once

// What the benchmark's systems share: one interface (System), the busy or blocking work a
// turn does (Work), and the per-call record the harness checks (Recorder). Every system
// gives the same guarantee (one call at a time per session) and reports each call's turn
// number, so the harness checks each of them the same way.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
    .count();
}

/// What one turn costs: busy CPU work, then a blocking wait (an LLM or network call).
struct Work {
  std::int64_t spin_ns = 0;
  std::int64_t sleep_ms = 0;

  void operator()() const {
    if (spin_ns > 0) {
      auto until = now_ns() + spin_ns;
      while (now_ns() < until) {
      }
    }
    if (sleep_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
};

/// Per-call results of one run, written by whichever thread completes the call.
///
/// The outstanding-call window has hysteresis: a caller that finds it full sleeps until a
/// quarter of it has drained, so completions wake a caller once per `window / 4` calls,
/// not once per call. (A per-call semaphore put a futex wake on every completion, inside
/// the serial section of every system alike, and a host does not block per call either.)
class Recorder {
public:
  Recorder(std::size_t calls, std::ptrdiff_t window)
    : submitted_(calls), latency_(calls), turn_(calls), ok_(calls), window_(window),
      resume_at_(window - std::max<std::ptrdiff_t>(1, window / 4)) {
    // resume_at_ < window_: a sleeping caller is always woken by some completion.
    // nop
  }

  /// Blocks while `window` calls are outstanding, then stamps call `i` as submitted. A
  /// caller is admitted only below the window (so sleepers are never counted) and, once
  /// asleep, waits until the window has drained to `resume_at_`.
  void start(std::size_t i) {
    auto cur = outstanding_.load(std::memory_order_acquire);
    for (;;) {
      if (cur < window_) {
        if (outstanding_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel))
          break;
        continue;
      }
      std::unique_lock l{mu_};
      ++sleepers_;
      cv_.wait(l, [&] { return outstanding_.load(std::memory_order_acquire) <= resume_at_; });
      --sleepers_;
      cur = outstanding_.load(std::memory_order_acquire);
    }
    submitted_[i] = now_ns();
  }

  void complete(std::size_t i, std::uint64_t turn, bool ok) {
    latency_[i] = now_ns() - submitted_[i];
    turn_[i] = turn;
    ok_[i] = ok;
    // Counts go down one at a time, so a drain always passes `resume_at_` exactly.
    auto left = outstanding_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (left == resume_at_ || left == 0) {
      std::lock_guard l{mu_};
      if (sleepers_ > 0)
        cv_.notify_all();
    }
    // Last: once every call is counted the Recorder may be destroyed.
    done_.fetch_add(1, std::memory_order_release);
  }

  /// Waits for all `n` calls.
  void wait_all(std::size_t n) {
    while (done_.load(std::memory_order_acquire) < n)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }

  const std::vector<std::int64_t>& latency() const { return latency_; }
  const std::vector<std::uint64_t>& turns() const { return turn_; }
  const std::vector<char>& ok() const { return ok_; }

private:
  std::vector<std::int64_t> submitted_;
  std::vector<std::int64_t> latency_;
  std::vector<std::uint64_t> turn_;
  std::vector<char> ok_;
  const std::ptrdiff_t window_;
  const std::ptrdiff_t resume_at_;
  std::atomic<std::ptrdiff_t> outstanding_{0};
  std::atomic<std::size_t> done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int sleepers_ = 0; // guarded by mu_
};

class System {
public:
  virtual ~System() = default;
  virtual const char* name() const = 0;
  /// Starts call `index` on session `key`; completes it through `rec` from any thread.
  virtual void submit(const std::string& key, Recorder& rec, std::size_t index) = 0;
  /// One blocking call; returns its turn number (0 on failure).
  virtual std::uint64_t call(const std::string& key) = 0;
  /// Whether one caller's calls to one session run in the order they were made.
  virtual bool keeps_caller_order() const {
    return true;
  }
  /// Returns once the system has reached its resting state after calls (e.g. sessions
  /// passivated); false if it did not within `limit`.
  virtual bool settle(std::chrono::milliseconds limit) {
    (void)limit;
    return true;
  }
};

} // namespace bench
