#pragma once

// CallQueue: the calls waiting for one session while a turn runs, and the busy policies
// that decide what a call arriving at a busy session does. Calls with policy interrupt or
// rollback wait ahead of ordinary ones, in their own arrival order.
//
// Plain data: the session actor that owns it is its lock. It keeps its stripe's `queued`
// gauge (every call in, every call out), so no caller counts by hand.

#include "core/call_state.hpp"
#include "core/fwd.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace agentrt::detail {

class CallQueue {
public:
  /// What a call that arrived while a turn runs gets.
  enum class Verdict : std::uint8_t {
    queued,     ///< waits, at `position` (1 = next)
    busy,       ///< policy reject: fail it with session_busy
    overloaded, ///< the queue is full: fail it with overloaded
    interrupt,  ///< queued ahead of ordinary calls; stop the running turn, keep its output
    rollback,   ///< queued ahead of ordinary calls; stop the running turn, discard it
  };

  struct Admission {
    Verdict verdict;
    std::size_t position = 0;
  };

  CallQueue() noexcept = default;
  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;
  /// Whatever is still waiting leaves the gauge.
  ~CallQueue();

  /// `gauge` (may be null) counts the calls waiting here; set it while the queue is empty.
  void count_in(std::atomic<std::int64_t>* gauge) noexcept {
    gauge_ = gauge;
  }

  /// Applies `c`'s busy policy. The bound (`depth`) holds for every policy but reject, so
  /// interrupts cannot grow the queue without limit. Queued calls are marked admitted.
  Admission admit(const CallPtr& c, std::size_t depth);

  bool empty() const noexcept {
    return head_ == calls_.size();
  }
  std::size_t size() const noexcept {
    return calls_.size() - head_;
  }

  /// Takes the next call to run; requires !empty().
  CallPtr pop();

  /// Takes call `id` out (its caller cancelled it); null if it is not here.
  CallPtr withdraw(std::uint64_t id);

  /// Takes out every call whose deadline is at or before `now` and hands each to
  /// `expired`; returns the earliest deadline left (Clock::time_point::max() if none).
  template <class F>
  Clock::time_point expire(Clock::time_point now, F&& expired) {
    auto earliest = Clock::time_point::max();
    for (std::size_t i = head_; i < calls_.size();) {
      if (calls_[i]->deadline <= now) {
        expired(take_at(i));
      } else {
        earliest = std::min(earliest, calls_[i]->deadline);
        ++i;
      }
    }
    return earliest;
  }

  /// Takes every call out (close, shutdown), oldest first.
  std::vector<CallPtr> drain();

private:
  CallPtr take_at(std::size_t i);
  void left(std::int64_t n) noexcept;

  // Waiting calls are calls_[head_, end), the first `urgent_` of them urgent. A vector, not
  // a deque (libstdc++'s deque allocates ~600 bytes even when empty, and most sessions
  // never queue); popping advances head_ instead of moving every pointer down.
  std::vector<CallPtr> calls_;
  std::size_t head_ = 0;
  std::size_t urgent_ = 0;
  std::atomic<std::int64_t>* gauge_ = nullptr;
};

} // namespace agentrt::detail
