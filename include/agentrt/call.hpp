#pragma once

// Call: the host's handle on one invocation, with that call's own event stream.
//
// Thread-safety: every member may be called from any thread, concurrently. A Call is
// move-only; dropping it does not cancel the work (use `cancel()`, or
// Request::cancel_on_drop). A Call may outlive its Runtime: shutdown ends every call,
// after which the handle only reads.

#include <agentrt/event.hpp>
#include <agentrt/reply.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace agentrt {

namespace detail {
struct CallState;
} // namespace detail

class Call {
public:
  /// An empty handle; only `valid()` may be called on it.
  Call() noexcept = default;
  explicit Call(std::shared_ptr<detail::CallState> state) noexcept;
  Call(Call&&) noexcept = default;
  /// Drops the call held before (cancelling it if it asked to be: Request::cancel_on_drop).
  Call& operator=(Call&& other) noexcept;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call();

  bool valid() const noexcept { return state_ != nullptr; }

  /// The session the call runs in; for a one-shot call, the id minted for it.
  const std::string& session_id() const noexcept;
  const std::string& agent() const noexcept;
  /// Unique within the Runtime that made the call.
  std::uint64_t id() const noexcept;

  /// The next event of this call, blocking until there is one. Returns nullopt once the
  /// terminal event has been returned: `while (auto e = call.next_event())` reads the whole
  /// stream.
  std::optional<Event> next_event();

  /// As `next_event()`, but waits at most `wait`: nullopt also when nothing arrived in time
  /// (`stream_ended()` tells the two apart).
  std::optional<Event> next_event(std::chrono::milliseconds wait);

  /// True once `next_event` has returned the terminal event.
  bool stream_ended() const noexcept;

  /// True once the call has its outcome.
  bool done() const noexcept;

  /// Waits up to `wait` for the outcome; true when it is there.
  bool wait_for(std::chrono::milliseconds wait) const;

  /// The outcome, blocking until it is there. The reference stays valid as long as this
  /// Call.
  const Reply& reply() const;

  /// Takes the outcome, blocking until it is there; the Call is left without it (a
  /// reference from reply() then refers to a moved-from Reply: use one or the other).
  Reply take();

  /// Ends the call: a queued call leaves the queue, a running turn is asked to stop (through
  /// its stop token) and its changes are discarded. The call ends with `cancelled` at once.
  /// No effect on a call that already has its outcome, or whose finished turn a durable
  /// store is writing (it completes in a moment). Returns true if this cancelled it.
  bool cancel();

  /// Runs `fn` once with the outcome: at once on this thread if the call is done, otherwise
  /// on the thread that completes it (a runtime worker), so `fn` must be quick and must not
  /// block; what it throws is ignored. Replaces a callback set earlier that has not run yet.
  void on_done(std::function<void(const Reply&)> fn);

private:
  std::shared_ptr<detail::CallState> state_;
};

} // namespace agentrt
