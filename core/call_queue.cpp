#include "core/call_queue.hpp"

#include <algorithm>

namespace agentrt::detail {

CallQueue::~CallQueue() {
  left(static_cast<std::int64_t>(size()));
}

void CallQueue::left(std::int64_t n) noexcept {
  if (gauge_ != nullptr && n != 0)
    gauge_->fetch_sub(n, std::memory_order_relaxed);
}

CallQueue::Admission CallQueue::admit(const CallPtr& c, std::size_t depth) {
  if (c->on_busy == BusyPolicy::reject)
    return {Verdict::busy};
  if (size() >= depth)
    return {Verdict::overloaded};
  c->admitted.store(true, std::memory_order_relaxed);
  if (gauge_ != nullptr)
    gauge_->fetch_add(1, std::memory_order_relaxed);
  if (c->on_busy == BusyPolicy::enqueue) {
    calls_.push_back(c);
    return {Verdict::queued, size()};
  }
  // Ahead of ordinary calls, behind earlier interrupts: arrival order among them.
  calls_.insert(calls_.begin() + static_cast<std::ptrdiff_t>(head_ + urgent_), c);
  ++urgent_;
  auto verdict = c->on_busy == BusyPolicy::interrupt ? Verdict::interrupt : Verdict::rollback;
  return {verdict, urgent_};
}

CallPtr CallQueue::pop() {
  auto c = std::move(calls_[head_++]);
  if (urgent_ > 0)
    --urgent_;
  if (head_ == calls_.size()) {
    calls_.clear();
    head_ = 0;
  } else if (head_ >= 32 && head_ * 2 >= calls_.size()) {
    // Mostly consumed: drop the consumed front so the vector does not only grow.
    calls_.erase(calls_.begin(), calls_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  left(1);
  return c;
}

CallPtr CallQueue::take_at(std::size_t i) {
  if (i - head_ < urgent_)
    --urgent_;
  auto c = std::move(calls_[i]);
  calls_.erase(calls_.begin() + static_cast<std::ptrdiff_t>(i));
  left(1);
  return c;
}

CallPtr CallQueue::withdraw(std::uint64_t id) {
  for (std::size_t i = head_; i < calls_.size(); ++i)
    if (calls_[i]->id == id)
      return take_at(i);
  return nullptr;
}

std::vector<CallPtr> CallQueue::drain() {
  std::vector<CallPtr> out(std::make_move_iterator(calls_.begin() + static_cast<std::ptrdiff_t>(head_)),
                           std::make_move_iterator(calls_.end()));
  left(static_cast<std::int64_t>(out.size()));
  calls_.clear();
  head_ = 0;
  urgent_ = 0;
  return out;
}

} // namespace agentrt::detail
