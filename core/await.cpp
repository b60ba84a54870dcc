// AwaitSlot: one await of a coroutine, completed exactly once from any thread.

#include <agentrt/await.hpp>

namespace agentrt::detail {

bool AwaitSlot::fail(Error error) {
  std::function<void()> abandon;
  return complete_with([&] {
    store_error(std::move(error));
    {
      std::lock_guard guard{mu_};
      abandon = std::move(abandon_);
    }
    if (abandon)
      abandon(); // stops what was awaited (child calls, a tool) before the coroutine goes on
  });
}

void AwaitSlot::on_abandon(std::function<void()> fn) {
  std::lock_guard guard{mu_};
  abandon_ = std::move(fn);
}

void AwaitSlot::resumer(std::shared_ptr<Resumer> r) noexcept {
  resumer_ = std::move(r);
}

void AwaitSlot::finish() {
  state_.store(2, std::memory_order_release);
  {
    std::lock_guard guard{mu_};
    abandon_ = nullptr; // what was awaited is over: drop what stopping it would need
  }
  if (resumer_)
    resumer_->resume(shared_from_this());
}

} // namespace agentrt::detail
