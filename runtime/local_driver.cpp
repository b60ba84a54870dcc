#include "runtime/local_driver.hpp"

namespace agentrt::detail {

void LocalDriver::suspend(const std::shared_ptr<AwaitSlot>& slot) {
  slot->resumer(shared_from_this());
  {
    MutexLock guard{mu_};
    pending_ = slot;
  }
  if (stopped_)
    slot->fail(stop_reason_);
}

void LocalDriver::after(Clock::duration delay, std::function<void()> fn) {
  {
    MutexLock guard{mu_};
    timers_.emplace(Clock::now() + delay, std::move(fn));
  }
  cv_.notify_all();
}

void LocalDriver::resume(std::shared_ptr<AwaitSlot> slot) noexcept {
  {
    MutexLock guard{mu_};
    ready_.push_back(std::move(slot));
  }
  cv_.notify_all();
}

void LocalDriver::step(const std::stop_token& stop, Clock::time_point deadline) {
  std::shared_ptr<AwaitSlot> resume_now;
  std::function<void()> timer;
  std::shared_ptr<AwaitSlot> to_fail;
  Error why;
  {
    CondLock lock{mu_};
    for (;;) {
      if (!ready_.empty()) {
        resume_now = std::move(ready_.front());
        ready_.pop_front();
        if (resume_now == pending_)
          pending_.reset();
        break;
      }
      auto now = Clock::now();
      if (!timers_.empty() && timers_.begin()->first <= now) {
        timer = std::move(timers_.begin()->second);
        timers_.erase(timers_.begin());
        break;
      }
      if (!stopped_ && (stop.stop_requested() || now >= deadline)) {
        stopped_ = true;
        to_fail = pending_;
        stop_reason_ = stop.stop_requested()
                         ? Error{errc::cancelled, "the call was stopped"}
                         : Error{errc::timeout, "the tool's deadline passed"};
        why = stop_reason_;
        break;
      }
      auto until = stopped_ ? Clock::time_point::max() : deadline;
      if (!timers_.empty())
        until = std::min(until, timers_.begin()->first);
      if (until == Clock::time_point::max())
        cv_.wait(lock.get());
      else
        cv_.wait_until(lock.get(), until);
    }
  }
  if (resume_now)
    resume_now->handle.resume();
  else if (timer)
    timer();
  else if (to_fail)
    to_fail->fail(std::move(why)); // resumes through resume(): the next step picks it up
}

} // namespace agentrt::detail
