#pragma once

// StopSignal: a call's stop request. Polling it is a flag read; a `std::stop_token` (whose
// shared state costs an allocation) is only made for handlers that ask for one, so the
// inline hot path allocates nothing for it.
//
// Thread-safety: every member may be called from any thread.

#include "core/thread_annotations.hpp"

#include <atomic>
#include <optional>
#include <stop_token>

namespace agentrt::detail {

class StopSignal {
public:
  bool stop_requested() const noexcept {
    return flag_.load(std::memory_order_acquire);
  }

  void request_stop() {
    MutexLock guard{mu_};
    flag_.store(true, std::memory_order_release);
    if (source_)
      source_->request_stop();
  }

  std::stop_token get_token() {
    MutexLock guard{mu_};
    if (!source_) {
      source_.emplace();
      if (flag_.load(std::memory_order_relaxed))
        source_->request_stop();
    }
    return source_->get_token();
  }

private:
  std::atomic<bool> flag_{false};
  Mutex mu_;
  std::optional<std::stop_source> source_ AGENTRT_GUARDED_BY(mu_);
};

} // namespace agentrt::detail
