#pragma once

// CallState: one call's request, event channel and outcome, shared by the host's Call, the
// session that runs it and (for blocking agents) the pool thread running its turn.
//
// Thread-safety: the request fields are immutable after construction. The channel is
// guarded by `mu_`. Completion is decided exactly once: the first of `finish_if_open`
// (cancel, timeout, rejection, shutdown) or `commit_and_complete` (the session's commit)
// wins; every later attempt is a no-op, so a caller told "cancelled" can never find the
// turn committed, and a committed turn is never reported as cancelled.

#include <agentrt/errors.hpp>

#include <boost/container/small_vector.hpp>

#include <atomic>
#include <agentrt/event.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/request.hpp>
#include <agentrt/session_key.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace agentrt::detail {

using Clock = std::chrono::steady_clock;

/// What a session can be asked to do about a call it holds: used by `Call::cancel` to take
/// a cancelled call out of its session's queue at once.
class SessionLink {
public:
  virtual ~SessionLink() = default;
  /// Asks the session to drop call `call_id` from its queue. Never blocks; a no-op once the
  /// session is gone.
  virtual void withdraw(std::uint64_t call_id) noexcept = 0;
};

/// A call's stop request. Polling it is a flag read; a `std::stop_token` (whose shared
/// state costs an allocation) is only made for handlers that ask for one, so the inline
/// hot path allocates nothing for it.
class StopSignal {
public:
  bool stop_requested() const noexcept {
    return flag_.load(std::memory_order_acquire);
  }

  void request_stop() {
    std::lock_guard guard{mu_};
    flag_.store(true, std::memory_order_release);
    if (source_)
      source_->request_stop();
  }

  std::stop_token get_token() {
    std::lock_guard guard{mu_};
    if (!source_) {
      source_.emplace();
      if (flag_.load(std::memory_order_relaxed))
        source_->request_stop();
    }
    return source_->get_token();
  }

private:
  std::atomic<bool> flag_{false};
  std::mutex mu_;
  std::optional<std::stop_source> source_; // guarded by mu_
};

struct CallState {
  CallState(std::uint64_t id, Request&& request, Clock::time_point invoked,
            Clock::duration timeout);

  // -- the request (immutable) --------------------------------------------------------------

  const std::uint64_t id;
  const std::string agent;
  const std::string session_id;
  const std::string input;
  const Params params;
  const BusyPolicy on_busy;
  const Clock::time_point invoked;
  const Clock::time_point deadline;

  /// Requested on cancel, timeout, interrupt, rollback, close and shutdown.
  StopSignal stop;

  /// Set by the session that took the call out of its mailbox (see CallTicket).
  std::atomic<bool> taken{false};

  // -- sub-calls (set before the call is dispatched, then read-only) ------------------------

  /// The sessions waiting on this call, outermost first (empty for a host's call).
  std::vector<SessionKey> chain;
  /// The parent call whose stream receives this call's non-terminal events.
  std::shared_ptr<CallState> forward_to;
  /// The session id was minted for this call (or for the one-shot call it serves): its
  /// session keeps nothing once idle.
  bool one_shot = false;

  // -- owned by the session actor holding the call ------------------------------------------

  /// When the call entered its session's queue, and when its turn started.
  Clock::time_point queued_at{};
  Clock::time_point started_at{};

  // -- channel ------------------------------------------------------------------------------

  /// Appends a non-terminal event; ignored once the call has its outcome. `source` names
  /// the agent when it is not this call's (forwarded sub-agent events); `tool` names the
  /// tool for tool events; `error` marks a failed tool result. Also forwarded to
  /// `forward_to`, tagged with this call's agent.
  void push(EventKind kind, std::string data = {}, std::size_t queue_position = 0,
            std::string source = {}, std::string tool = {}, std::error_code error = {});

  /// Ends the call with `error` unless it already ended; the terminal event is `cancelled`
  /// for cancelled/interrupted/rolled_back, `failed` otherwise. Returns true if this call
  /// ended it. `before`, if set, runs only if this call ends it, before anyone can see the
  /// outcome (so counters are up to date when a caller wakes).
  bool finish_if_open(errc error, std::string message, std::uint64_t turn = 0,
                      const std::function<void()>& before = {});

  /// Runs `commit` and completes the call with `reply` as one step, unless the call already
  /// ended (then `commit` does not run and false is returned). `terminal` is `completed`, or
  /// `cancelled` for an interrupted turn whose changes are kept.
  bool commit_and_complete(const std::function<void()>& commit, Reply reply,
                           EventKind terminal = EventKind::completed);

  /// The session takes the call to commit it asynchronously (a durable store's write):
  /// from now on only `complete_claimed` / `fail_claimed` end it; cancel and timeouts are
  /// no-ops, since the turn may already be on its way to disk. False if it already ended.
  bool claim();

  /// Ends a claimed call: `commit` and `reply` as in commit_and_complete.
  void complete_claimed(const std::function<void()>& commit, Reply reply,
                        EventKind terminal = EventKind::completed);

  /// Ends a claimed call with `error`; `before` runs in the same step.
  void fail_claimed(errc error, std::string message, std::uint64_t turn,
                    const std::function<void()>& before = {});

  /// True once the call has its outcome.
  bool done() const;

  /// Same as done(), without taking the lock (set in the same step as done).
  bool ended() const noexcept {
    return ended_.load(std::memory_order_acquire);
  }

  /// Records the session that holds the call, so a later cancel can withdraw it.
  void attach(std::shared_ptr<SessionLink> link);

  /// Host side: ends the call with `cancelled` and stops its turn. True if this ended it.
  bool cancel();

  // -- host side reads ----------------------------------------------------------------------

  std::optional<Event> next_event(std::optional<Clock::duration> wait);
  bool stream_ended() const;
  bool wait_done(std::optional<Clock::duration> wait) const;
  /// Requires done().
  const Reply& reply() const { return reply_; }
  Reply take_reply();
  void on_done(std::function<void(const Reply&)> fn);

private:
  struct Record {
    EventKind kind;
    std::uint64_t seq;
    std::string data;
    std::string source;
    std::string tool;
    std::size_t queue_position;
    std::error_code error;
  };

  /// Requires `mu_` held and the call open. Marks it done; returns the callback to run.
  std::function<void(const Reply&)> complete_locked(EventKind terminal, std::error_code error,
                                                    std::string data);

  /// Requires `mu_` held and the call open. Runs `commit`, stores `reply`, completes.
  std::function<void(const Reply&)> commit_locked(const std::function<void()>& commit,
                                                  Reply reply, EventKind terminal);

  void run_callback(std::function<void(const Reply&)> fn);

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  // Inline room for a typical call's events (started, a few more, terminal): no allocation.
  boost::container::small_vector<Record, 4> events_; // guarded by mu_
  std::size_t next_read_ = 0;                        // guarded by mu_
  std::uint64_t next_seq_ = 1;      // guarded by mu_
  bool done_ = false;               // guarded by mu_
  bool claimed_ = false;            // guarded by mu_; see claim()
  std::atomic<bool> ended_{false};  // mirrors done_ for lock-free checks
  bool terminal_read_ = false;      // guarded by mu_
  Reply reply_;                     // guarded by mu_ until done_, then read-only
  std::function<void(const Reply&)> on_done_; // guarded by mu_
  bool has_callback_ = false;                 // guarded by mu_; take_reply copies then
  std::shared_ptr<SessionLink> link_;         // guarded by mu_
};

using CallPtr = std::shared_ptr<CallState>;

} // namespace agentrt::detail
