#pragma once

// BlockingPool: a fixed set of threads for handlers that block, so they never hold the
// actor workers that serve every other session.
//
// Thread-safety: `post` may be called from any thread. `stop` is called once, by the owner.

#include "runtime/executor.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace agentrt::detail {

class BlockingPool final : public Executor {
public:
  explicit BlockingPool(std::size_t threads);
  ~BlockingPool() override;

  void post(std::function<void()> job) override;

  /// Stops taking jobs, drops queued ones, and waits up to `grace` for running jobs; the
  /// threads still busy after that are detached (their jobs own everything they touch).
  /// Returns how many threads were abandoned.
  std::size_t stop(std::chrono::milliseconds grace);

private:
  struct Shared {
    std::mutex mu;
    std::condition_variable work_cv;
    std::condition_variable idle_cv;
    std::deque<std::function<void()>> jobs; // guarded by mu
    std::size_t busy = 0;                   // guarded by mu
    std::size_t exited = 0;                 // guarded by mu
    bool stopping = false;                  // guarded by mu
  };

  static void work(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

} // namespace agentrt::detail
