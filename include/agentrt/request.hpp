#pragma once

// Request: what a host asks of one session.

#include <agentrt/event.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace agentrt {

/// What a call does when its session is already running a turn.
enum class BusyPolicy : std::uint8_t {
  /// Wait in the session's bounded FIFO queue; `overloaded` when it is full. The default:
  /// a second click on "Generate" is served after the first, never refused by accident.
  enqueue,
  /// Fail at once with `session_busy`.
  reject,
  /// Stop the running turn through its stop token, keep what it produced (its caller gets
  /// `interrupted`), then run this call before anything else queued.
  interrupt,
  /// Stop the running turn and discard it and its input (its caller gets `rolled_back`),
  /// then run this call before anything else queued.
  rollback,
};

/// The policy's name: "enqueue", "reject", "interrupt", "rollback".
std::string_view to_string(BusyPolicy policy) noexcept;

/// Free-form named parameters passed to the handler (`Turn::params`).
using Params = std::map<std::string, std::string, std::less<>>;

/// One call to one session.
struct Request {
  /// The registered agent type.
  std::string agent;
  /// The session to run in. Empty: a new one-shot session, whose minted UUID v4 is echoed
  /// in the Call, every event and the Reply. A one-shot session ends once its call is done
  /// and is never stored: calling its id again starts afresh. Otherwise 1-128 characters of [A-Za-z0-9._:-];
  /// the session is created on first use and keeps its context across calls.
  std::string session_id;
  /// The user's input: appended to the session history as a `user` message when the turn
  /// commits.
  std::string input;
  Params params;
  BusyPolicy on_busy = BusyPolicy::enqueue;
  /// Time from `invoke` until the call must have finished; unset: the runtime's
  /// `default_timeout`. Past it the call fails with `timeout` and its turn is stopped.
  /// Longer than a year counts as a year; zero or negative fails with `invalid_timeout`.
  std::optional<std::chrono::milliseconds> timeout;
  /// Where this call's events go as they happen (push), instead of `Call::next_event`
  /// (pull). It belongs to this call alone and is fixed when the call starts. It receives
  /// every event once, in `seq` order, never two at a time for one call, on a runtime thread
  /// (an actor worker, a pool thread, or the thread that cancels): it must be quick and
  /// must not block or wait on the call. What it throws is ignored. With it set,
  /// `next_event` returns nothing.
  std::function<void(const Event&)> on_event;
  /// True: dropping the Call (its destructor, or assigning over it) cancels the call if it
  /// has no outcome yet. False (the default): a dropped call runs on.
  bool cancel_on_drop = false;
  /// True: the call keeps its events (RuntimeConfig::events_kept) and its session keeps it
  /// for a while after it ends (calls_kept, calls_kept_for), so a client whose stream broke
  /// can `Runtime::attach` to it. Off by default: keeping them costs every call (see
  /// docs/BENCHMARKS.md, `retry`). A call with a request id keeps its events anyway, so a
  /// repeat can follow it from its first event.
  bool resumable = false;
  /// Client-chosen id that makes retries safe: 1-128 characters of [A-Za-z0-9._:-], or
  /// empty (none). A later call with the same id in the same session runs no turn: if the
  /// first one's turn committed, it gets that outcome (Reply::replayed); if the first one
  /// is still queued or running, it follows it (its events from the start, then its
  /// outcome). A first call that failed, timed out or was cancelled committed nothing and
  /// is forgotten: the retry runs. Reusing an id with a different input or params fails
  /// with request_id_reused. Remembered per session (RuntimeConfig::request_ids_kept,
  /// request_id_ttl) and, with a durable store, stored with the turn, so a retry after a
  /// crash finds it. Not for one-shot calls (no session id).
  std::string request_id;
};

} // namespace agentrt
