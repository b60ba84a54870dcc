#include <agentrt/call.hpp>

#include "core/call_state.hpp"

namespace agentrt {

Call::Call(std::shared_ptr<detail::CallState> state) noexcept : state_(std::move(state)) {
  // nop
}

Call::~Call() {
  if (state_ && state_->cancel_on_drop)
    state_->cancel();
}

Call& Call::operator=(Call&& other) noexcept {
  if (this != &other) {
    if (state_ && state_->cancel_on_drop)
      state_->cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

const std::string& Call::session_id() const noexcept {
  return state_->session_id;
}

const std::string& Call::agent() const noexcept {
  return state_->agent;
}

std::uint64_t Call::id() const noexcept {
  return state_->id;
}

std::optional<Event> Call::next_event() {
  return state_->next_event(std::nullopt);
}

std::optional<Event> Call::next_event(std::chrono::milliseconds wait) {
  return state_->next_event(wait);
}

bool Call::stream_ended() const noexcept {
  return state_->stream_ended();
}

bool Call::done() const noexcept {
  return state_->ended();
}

bool Call::wait_for(std::chrono::milliseconds wait) const {
  return state_->wait_done(wait);
}

const Reply& Call::reply() const {
  state_->wait_done(std::nullopt);
  return state_->reply();
}

Reply Call::take() {
  return state_->take_reply();
}

bool Call::cancel() {
  // The terminal event releases the push callback; if that callback owned this handle, the
  // handle is gone before cancel() returns, so the state must not be reached through it.
  auto keep = state_;
  return keep->cancel();
}

void Call::on_done(std::function<void(const Reply&)> fn) {
  state_->on_done(std::move(fn));
}

} // namespace agentrt
