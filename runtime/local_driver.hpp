#pragma once

// LocalDriver: runs a coroutine (a coroutine tool called by a blocking turn) to its end on
// the calling thread. The thread sleeps on a condition variable while the coroutine waits;
// completions from any thread wake it, and it resumes the coroutine itself. A stop of the
// calling turn, or the deadline, fails the pending await at once.
//
// Thread-safety: `run` on one thread; the Resumer side from any thread.

#include <agentrt/await.hpp>
#include <agentrt/task.hpp>

#include "core/thread_annotations.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <stop_token>

namespace agentrt::detail {

class LocalDriver final : public AwaitContext,
                          public Resumer,
                          public std::enable_shared_from_this<LocalDriver> {
public:
  using Clock = std::chrono::steady_clock;

  /// Runs `task` to its end. `stop` and `deadline` end a pending await with `cancelled` /
  /// `timeout` (and every later one).
  template <class T>
  T run(Task<T>& task, std::stop_token stop, Clock::time_point deadline) {
    task.handle().promise().context = this;
    task.handle().resume();
    drive([&] { return task.done(); }, std::move(stop), deadline);
    return task.result();
  }

  /// Why the awaits failed, once the stop or the deadline came; null before. The
  /// coroutine's own result then does not count: it only saw its await fail.
  const Error* stopped() const noexcept {
    return stopped_ ? &stop_reason_ : nullptr;
  }

  void suspend(const std::shared_ptr<AwaitSlot>& slot) override;
  void after(Clock::duration delay, std::function<void()> fn) override;
  void resume(std::shared_ptr<AwaitSlot> slot) noexcept override;

private:
  template <class Done>
  void drive(Done done, std::stop_token stop, Clock::time_point deadline) {
    // Under the lock: `step` checks the stop under it before it waits, so the wake-up
    // cannot fall between that check and the wait.
    std::stop_callback wake{stop, [this] {
                              MutexLock guard{mu_};
                              cv_.notify_all();
                            }};
    while (!done())
      step(stop, deadline);
  }

  /// Waits for the next thing to do (a completion, a timer, a stop, the deadline) and does
  /// it.
  void step(const std::stop_token& stop, Clock::time_point deadline);

  Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<AwaitSlot>> ready_ AGENTRT_GUARDED_BY(mu_);
  std::shared_ptr<AwaitSlot> pending_ AGENTRT_GUARDED_BY(mu_);
  std::multimap<Clock::time_point, std::function<void()>> timers_ AGENTRT_GUARDED_BY(mu_);
  bool stopped_ = false; // only the driving thread
  /// Why the awaits fail once stopped (cancelled, or the deadline: timeout).
  Error stop_reason_;     // only the driving thread
};

} // namespace agentrt::detail
