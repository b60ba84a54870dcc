#pragma once

// BlockingPool: threads for handlers and tools that block, so they never hold the actor
// workers that serve every other session.
//
// It runs up to `threads` jobs at once, starting a thread only when a job finds none idle:
// a runtime whose handlers never block starts none. A job that waits on other pool work (a
// sub-agent turn, a blocking tool) says so with begin_wait/end_wait; while it waits the
// pool may start an extra thread (up to `max_threads`), so orchestrators waiting on
// sub-agents cannot starve the sub-agents of threads. Extra threads retire once idle.
//
// Thread-safety: `post`, `begin_wait`, `end_wait` may be called from any thread. `stop` is
// called once, by the owner. Threads are detached: each owns the shared state it uses.

#include "core/executor.hpp"
#include "core/thread_annotations.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace agentrt::detail {

class BlockingPool final : public Executor {
public:
  BlockingPool(std::size_t threads, std::size_t max_threads);
  ~BlockingPool() override;

  void post(std::function<void()> job) override;
  void begin_wait() override;
  void end_wait() override;

  /// Threads alive now (running a job, waiting for one, or about to retire).
  std::size_t threads() const;
  /// Threads waiting for a job now.
  std::size_t idle_threads() const;

  /// Stops taking jobs, drops queued ones, and waits up to `grace` for the threads to
  /// finish their jobs and exit. Returns how many threads were still busy (abandoned: each
  /// exits when its job returns).
  std::size_t stop(std::chrono::milliseconds grace);

private:
  struct Shared {
    Mutex mu;
    std::condition_variable work_cv;
    std::condition_variable exit_cv;
    std::deque<std::function<void()>> jobs AGENTRT_GUARDED_BY(mu);
    std::size_t base AGENTRT_GUARDED_BY(mu) = 0;
    std::size_t max AGENTRT_GUARDED_BY(mu) = 0;
    std::size_t alive AGENTRT_GUARDED_BY(mu) = 0;
    std::size_t waiting AGENTRT_GUARDED_BY(mu) = 0;
    std::size_t idle AGENTRT_GUARDED_BY(mu) = 0; // threads waiting for a job
    bool stopping AGENTRT_GUARDED_BY(mu) = false;
  };

  static void spawn(const std::shared_ptr<Shared>& shared) AGENTRT_REQUIRES(shared->mu);
  /// Starts a thread if a queued job has no idle thread to take it and fewer than `base`
  /// threads are running jobs that do not wait.
  static void spawn_if_short(const std::shared_ptr<Shared>& shared) AGENTRT_REQUIRES(shared->mu);
  static void work(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
  bool stopped_ = false;
};

} // namespace agentrt::detail
