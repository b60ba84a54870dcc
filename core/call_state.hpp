#pragma once

// CallState: one call's request, event channel and outcome, shared by the host's Call, the
// session that runs it and (for blocking agents) the pool thread running its turn.
//
// Lifecycle: a call is `open` until it ends; a durable session may `claim` it first (its
// turn is on its way to disk: cancel and timeouts no longer apply); then it is `done`. It
// ends exactly once, in one private step (`complete`) that every way of ending goes
// through: under the lock it decides (the first to arrive wins, every later attempt is a
// no-op), fills the reply, appends the terminal event and counts the outcome in the call's
// metrics stripe; after the lock it wakes readers and runs the completion callback. So a
// caller told "cancelled" can never find the turn committed, a committed turn is never
// reported as cancelled, and every call is counted once, before anyone can see its outcome.
//
// Thread-safety: the request fields are immutable after construction; the channel and the
// outcome are guarded by `mu_`; `ended()` and `taken` are atomics.

#include <agentrt/errors.hpp>
#include <agentrt/event.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/request.hpp>
#include <agentrt/result.hpp>
#include <agentrt/session_key.hpp>

#include "core/block_recycler.hpp"
#include "core/fwd.hpp"
#include "core/stop_signal.hpp"
#include "core/thread_annotations.hpp"

#include <boost/container/small_vector.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

struct CallState {
  /// `stripe`: where the outcome is counted (null: not counted); it must outlive every
  /// completion of the call (the Runtime ends every call before its metrics go).
  CallState(std::uint64_t id, Request&& request, Clock::time_point invoked,
            Clock::duration timeout, MetricStripe* stripe = nullptr);

  // -- the request (immutable) --------------------------------------------------------------

  const std::uint64_t id;
  const std::string agent;
  const std::string session_id;
  const std::string input;
  const Params params;
  /// Request::request_id (empty: none).
  const std::string request_id;
  /// Request::resumable: its session keeps it for Runtime::attach.
  const bool resumable;
  const BusyPolicy on_busy;
  const Clock::time_point invoked;
  const Clock::time_point deadline;
  MetricStripe* const stripe;
  /// True when the events are pushed to Request::on_event (the sink, below), not pulled.
  const bool pushes;
  const bool cancel_on_drop;

  /// Requested on cancel, timeout, interrupt, rollback, close and shutdown.
  StopSignal stop;

  /// Set by the session that took the call out of its mailbox (see CallTicket).
  std::atomic<bool> taken{false};

  /// Set by the session when it queues or starts the call: a call that ends after that
  /// was accepted (counted as cancelled or failed), before it was refused (rejected).
  std::atomic<bool> admitted{false};

  // -- sub-calls (set before the call is dispatched, then read-only) ------------------------

  /// The sessions waiting on this call, outermost first (empty for a host's call).
  std::vector<SessionKey> chain;
  /// The parent call whose stream receives this call's body events.
  std::shared_ptr<CallState> forward_to;
  /// The session id was minted for this call: its session ends once idle.
  bool one_shot = false;
  /// Nothing of its session is stored: a one-shot call, or a sub-call it made (whose
  /// session lives until idle_timeout, so the one-shot turn can ask it again).
  bool ephemeral = false;

  /// Events kept after they were read (or pushed), for followers that attach later
  /// (Runtime::attach): at most this many, and about this many bytes of event data; the
  /// oldest read ones go first. Zero: none are kept. Set before the call is dispatched.
  std::uint32_t keep_events = 0;
  std::uint32_t keep_bytes = 0;
  /// Set by the session before it makes this call a follower of an earlier one with the
  /// same request id: its outcome is not counted again.
  std::atomic<bool> replay{false};
  // -- owned by the session actor holding the call ------------------------------------------

  /// When its turn started.
  Clock::time_point started_at{};

  // -- channel ------------------------------------------------------------------------------

  /// Appends a body event; ignored once the call has its outcome. `source` names the agent
  /// when it is not this call's (forwarded sub-agent events); `tool` names the tool for tool
  /// events; `error` marks a failed tool result. Body events are also forwarded to
  /// `forward_to`, tagged with this call's agent.
  void push(EventKind kind, std::string data = {}, std::size_t queue_position = 0,
            std::string source = {}, std::string tool = {}, std::error_code error = {});

  // -- ending -------------------------------------------------------------------------------

  /// Ends an open call with `error` (terminal event `cancelled` for cancelled, interrupted
  /// and rolled_back, `failed` otherwise). `inside` runs in the same step, only if this ends
  /// the call (a log line that must exist before the caller wakes). True if this ended it.
  template <class F = std::nullptr_t>
  bool end(errc error, std::string message, std::uint64_t turn = 0, F&& inside = nullptr) {
    return complete(false, Effects::stop, [&]() AGENTRT_REQUIRES(mu_) {
      fail_locked(error, std::move(message), turn);
      if constexpr (!std::is_same_v<std::decay_t<F>, std::nullptr_t>)
        inside();
    });
  }

  /// Runs `apply` (the commit) and completes an open call with `reply` as one step; neither
  /// happens if the call already ended. `terminal` is `completed`, or `cancelled` for an
  /// interrupted turn whose changes are kept. True if committed.
  template <class F>
  bool commit(F&& apply, Reply reply, EventKind terminal = EventKind::completed) {
    return complete(false, Effects::none,
                    [&]() AGENTRT_REQUIRES(mu_) {
                      commit_locked(apply, std::move(reply), terminal);
                    });
  }

  /// The session takes the call to commit it asynchronously (a durable store's write):
  /// from now on only `commit_claimed` / `end_claimed` end it; cancel and timeouts are
  /// no-ops, since the turn may already be on its way to disk. False if it already ended.
  bool claim();

  /// Ends a claimed call: `apply` and `reply` as in `commit`.
  template <class F>
  void commit_claimed(F&& apply, Reply reply, EventKind terminal = EventKind::completed) {
    complete(true, Effects::none, [&]() AGENTRT_REQUIRES(mu_) {
      commit_locked(apply, std::move(reply), terminal);
    });
  }

  /// Ends a claimed (or still open) call with `error`; `inside` as in `end`.
  template <class F = std::nullptr_t>
  void end_claimed(errc error, std::string message, std::uint64_t turn = 0,
                   F&& inside = nullptr) {
    complete(true, Effects::stop, [&]() AGENTRT_REQUIRES(mu_) {
      fail_locked(error, std::move(message), turn);
      if constexpr (!std::is_same_v<std::decay_t<F>, std::nullptr_t>)
        inside();
    });
  }

  /// Host side: ends the call with `cancelled`, stops its turn and asks its session to drop
  /// it from the queue. True if this ended it.
  bool cancel();

  /// True once the call has its outcome (lock-free).
  bool ended() const noexcept {
    return phase_.load(std::memory_order_acquire) == Phase::done;
  }

  /// When the call ended; requires ended().
  Clock::time_point ended_at() const noexcept {
    return ended_at_;
  }
  /// True while the call can still be ended by anyone (neither claimed nor done).
  bool open() const noexcept {
    return phase_.load(std::memory_order_acquire) == Phase::open;
  }

  /// Records the session that holds the call, so a later cancel can withdraw it.
  void attach(std::shared_ptr<SessionLink> link);
  /// Makes `follower` (a call that runs no turn) a reader of this call: it gets this call's
  /// events after `after_seq` (with this call's seq numbers; nullopt: from the oldest one
  /// kept), then every later one, then this call's outcome (as its own, `replayed` when
  /// `follower->replay`). invalid_range if `after_seq` is past this call's last event,
  /// events_expired if events after it are no longer kept; the follower is untouched then.
  /// Lock order: this call, then the follower.
  Result<void> add_follower(const CallPtr& follower, std::optional<std::uint64_t> after_seq);
  /// Ends this call (open, never dispatched) with `reply` as a replay of an earlier call's
  /// outcome: terminal event `completed` with the output, or `cancelled` for interrupted.
  void end_replayed(const Reply& reply);

  // -- host side reads ----------------------------------------------------------------------

  /// The next event (pull); nullopt at once when the events are pushed to `sink`.
  std::optional<Event> next_event(std::optional<Clock::duration> wait);
  bool stream_ended() const;
  bool wait_done(std::optional<Clock::duration> wait) const;
  /// Requires ended().
  const Reply& reply() const noexcept {
    return reply_;
  }
  Reply take_reply();
  void on_done(std::function<void(const Reply&)> fn);

private:
  enum class Phase : std::uint8_t { open, claimed, done };

  /// What ending a call also does: a failed call's turn is asked to stop; a cancel also
  /// asks its session to drop it from the queue. A committed call needs neither.
  enum class Effects : std::uint8_t { none, stop, stop_and_withdraw };

  /// What only forwarded and tool events carry: kept out of line, so a record stays small.
  struct EventTags {
    std::string source; // the agent, when it is not this call's (forwarded events)
    std::string tool;
  };
  struct Record {
    EventKind kind;
    std::uint64_t seq;
    std::string data;
    std::shared_ptr<const EventTags> tags; // null: neither
    std::size_t queue_position;
    std::error_code error;
  };

  /// The one step that ends a call: if it is open (or claimed, when `claimed_ok`), runs
  /// `fill` (which sets the reply and appends the terminal event), marks it done and counts
  /// its outcome, all under the lock; then applies `effects`, wakes readers and runs the
  /// completion callback. True if it ended the call.
  template <class Fill>
  bool complete(bool claimed_ok, Effects effects, Fill&& fill) {
    std::function<void(const Reply&)> callback;
    std::shared_ptr<SessionLink> link;
    Woken ended;
    {
      MutexLock guard{mu_};
      auto phase = phase_.load(std::memory_order_relaxed);
      if (phase == Phase::done || (phase == Phase::claimed && !claimed_ok))
        return false;
      fill();
      callback = finish_locked();
      if (effects == Effects::stop_and_withdraw)
        link = std::move(link_);
      link_.reset();
      end_followers_locked(ended);
    }
    after_complete(std::move(callback), effects != Effects::none, link.get());
    wake_followers(ended);
    return true;
  }

  /// Followers to wake after the lock, with the completion callbacks of those that ended.
  using Woken =
    boost::container::small_vector<std::pair<CallPtr, std::function<void(const Reply&)>>, 2>;
  /// Requires `mu_`: copies `rec` to every follower still open.
  void relay_locked(const Record& rec) AGENTRT_REQUIRES(mu_);
  /// Requires `mu_` (this call just ended): ends every follower with this call's outcome.
  void end_followers_locked(Woken& woken) AGENTRT_REQUIRES(mu_);
  /// Requires `mu_` of the source: takes `rec` (a copy of the source's event).
  void take_relayed(const Record& rec);
  /// Requires `mu_` of the source: ends this follower with `reply` and `terminal`; returns
  /// its completion callback.
  std::function<void(const Reply&)> take_outcome(const Reply& reply, const Record& terminal);
  /// `reply` as this call's own (its ids; `replayed` when it is a replay).
  Reply with_identity(const Reply& reply) const;
  /// Requires `mu_` and an ended call: its terminal event, rebuilt from the reply.
  Record terminal_record() const AGENTRT_REQUIRES(mu_);
  /// Wakes this call's readers (a pull reader, or the push delivery), after the locks.
  void wake();
  static void wake_followers(Woken& woken);
  /// Requires `mu_`: drops the oldest read events beyond what is kept.
  void trim_locked() AGENTRT_REQUIRES(mu_);

  /// Requires `mu_`: sets the reply's error and appends the terminal event.
  void fail_locked(errc error, std::string message, std::uint64_t turn) AGENTRT_REQUIRES(mu_);
  /// Requires `mu_`: runs `apply`, stores `reply`, appends the terminal event.
  template <class F>
  void commit_locked(F& apply, Reply reply, EventKind terminal) AGENTRT_REQUIRES(mu_) {
    apply();
    store_reply_locked(std::move(reply), terminal);
  }
  void store_reply_locked(Reply reply, EventKind terminal) AGENTRT_REQUIRES(mu_);
  /// The host's view of a recorded event.
  Event to_event(Record& rec) const AGENTRT_REQUIRES(mu_);
  /// Push: hands every undelivered event to `sink`, in order, from one thread at a time
  /// (the one that finds no delivery in progress), outside the lock.
  void deliver();
  /// Requires `mu_`: marks the call done, counts its outcome and returns the callback.
  std::function<void(const Reply&)> finish_locked() AGENTRT_REQUIRES(mu_);
  /// Stops the turn (`stop`), wakes readers, withdraws the call from `link` (a cancel) and
  /// runs `callback`.
  void after_complete(std::function<void(const Reply&)> callback, bool stop, SessionLink* link);

  /// The push consumer (Request::on_event). Only the delivering thread touches it (see
  /// deliver); it is released once the terminal event is delivered, so what it captures
  /// (often the host's handle of this call) does not keep the call alive in a cycle.
  std::function<void(const Event&)> sink_;

  mutable Mutex mu_;
  mutable std::condition_variable cv_;
  // Inline room for a plain call's events (started, terminal): no allocation. Two, not
  // more: the CallState then stays under glibc's per-thread cache limit (1 KiB), which
  // matters because a call is allocated on the host's thread and freed on a worker's.
  boost::container::small_vector<Record, 2> events_ AGENTRT_GUARDED_BY(mu_);
  std::size_t next_read_ AGENTRT_GUARDED_BY(mu_) = 0;
  /// Bytes of event data in events_ (counted when something is kept).
  std::size_t kept_bytes_ AGENTRT_GUARDED_BY(mu_) = 0;
  /// Calls that follow this one (Runtime::attach, a repeated request id).
  std::vector<CallPtr> followers_ AGENTRT_GUARDED_BY(mu_);
  std::uint64_t next_seq_ AGENTRT_GUARDED_BY(mu_) = 1;
  std::atomic<Phase> phase_{Phase::open}; // written under mu_, read lock-free
  bool terminal_read_ AGENTRT_GUARDED_BY(mu_) = false;
  bool delivering_ AGENTRT_GUARDED_BY(mu_) = false; // push: a thread is in deliver()
  Reply reply_; // guarded by mu_ until done, then read-only
  Clock::time_point ended_at_{}; // as reply_
  std::function<void(const Reply&)> on_done_ AGENTRT_GUARDED_BY(mu_);
  bool has_callback_ AGENTRT_GUARDED_BY(mu_) = false; // take_reply copies then
  std::shared_ptr<SessionLink> link_ AGENTRT_GUARDED_BY(mu_);
};

using CallPtr = std::shared_ptr<CallState>;

/// A new call's state, in a block recycled across threads (core/block_recycler.hpp): made
/// on the caller's thread, usually freed on a worker's.
template <class... Args>
CallPtr make_call_state(Args&&... args) {
  // Its control block and the CallState share one block: keep them under a block's size,
  // or every call falls back to the global allocator.
  static_assert(sizeof(CallState) + 32 <= recycled_block_bytes);
  return std::allocate_shared<CallState>(RecyclingAllocator<CallState>{},
                                         std::forward<Args>(args)...);
}

} // namespace agentrt::detail
