#pragma once

// The steps of a session actor, shared by its parts (actors/session/*.cpp) and its
// behavior (actors/session/actor.cpp). Each takes the actor and works on its state.

#include "actors/session_actor.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace agentrt::detail {

inline constexpr auto relaxed = std::memory_order_relaxed;

inline std::int64_t to_ns(Clock::duration d) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

inline std::int64_t now_ns(session_pointer self) {
  return to_ns(self->clock().now().time_since_epoch());
}

/// The session's SessionRef (made on first need).
const std::shared_ptr<SessionRef>& session_ref(session_pointer self);

/// Publishes whether the session has work (the supervisor never expires a busy session).
inline void update_busy(SessionState& st) noexcept {
  st.activity->busy.store(st.running != nullptr || !st.queue.empty(), relaxed);
}

/// Publishes the session's last activity (the supervisor's idle clock).
inline void touch(SessionState& st, Clock::time_point now) noexcept {
  st.activity->last_active.store(to_ns(now.time_since_epoch()), relaxed);
}

// -- calls.cpp: a call arrives, waits, is withdrawn or times out -----------------------------

void on_call(session_pointer self, const CallTicket& ticket);
void on_withdraw(session_pointer self, std::uint64_t id);
void on_deadline(session_pointer self, std::int64_t tick_ns);
/// Makes sure a deadline timer fires by `deadline`.
void arm_deadline(session_pointer self, Clock::time_point deadline);
/// Starts queued calls while the session is free; a one-shot session ends once idle.
void next(session_pointer self);
/// Ends every queued call with `e` (close, shutdown).
void end_queue(session_pointer self, errc e, const std::string& message);

// -- turns.cpp: a turn runs and ends ----------------------------------------------------------

/// Starts `c`'s turn now (the session runs none).
void start(session_pointer self, const CallPtr& c);
/// A blocking turn came back, or an inline turn's deferred end came round.
void on_turn_done(session_pointer self, const TurnJobPtr& job);
/// What a coroutine turn awaited completed.
void on_resume(session_pointer self, const AwaitSlotPtr& slot);
/// A coroutine turn's timer is due.
void on_timer(session_pointer self, const TimerFn& fn);
/// The running coroutine turn must stop: its pending await, and every later one, fails
/// with `why` at once. No effect on other turns (a blocking turn sees its stop token).
/// The running turn's handler is done and its compactor runs (`job.compacting`): stops the
/// compactor with `why`; the turn then commits without folding.
void stop_compaction(TurnJob& job, Error why);
void abort_turn(session_pointer self, Error why);
/// Ends the running turn's call with `e`; the turn itself is discarded when it ends.
void end_running(session_pointer self, errc e, const std::string& message);

// -- commit.cpp: a durable store writes the turn first ----------------------------------------

/// Claims the call and hands the turn to the store; the session stays busy until
/// `persisted`. `job` may be null (one is made from `ctx`).
void persist(session_pointer self, TurnJobPtr job, TurnContext& ctx, Reply reply,
             EventKind terminal);
void on_persisted(session_pointer self, const TurnJobPtr& job);
/// Ends a turn the store is still writing (close, shutdown) with `e`.
void abandon_persisting(session_pointer self, errc e, const std::string& message);

// -- lifecycle.cpp: load, hand-over, expiry, close, drain --------------------------------------

/// Brings the stored context back on the first call; false (and `c` failed) if the store
/// could not be read.
bool ensure_loaded(session_pointer self, const CallPtr& c);

/// Forgets the conversation held here (its lease moved on, see DurableStore::holds): the
/// next call loads, and claims, it again. Only while no turn runs or waits.
void drop_stale(session_pointer self);
/// Brings the stored context back if it is not yet (on the first call or read).
Result<void> load_stored(session_pointer self, std::uint64_t call_id);
/// Hands the session to a passivating store; false if the store refused.
bool passivate(session_pointer self);
/// A turn is over and the session is free: start what is queued, or stop if ending.
void after_turn(session_pointer self);
/// A one-shot session that is idle ends (nothing is kept); any other session: no effect.
void end_one_shot(session_pointer self);
void on_expire(session_pointer self, std::int64_t observed, ExpireReason why);
void on_close(session_pointer self, const ClosePromise& closed);
void on_drain(session_pointer self, std::int64_t drain_ns);
void on_stop(session_pointer self);
SessionInfo describe(session_pointer self);
/// Answers a read of the committed history and state (loading them first if needed).
void on_read(session_pointer self, const ConversationReadPtr& read);
/// Makes the attach's follower follow one of the session's recent calls, or ends it with
/// why not.
void on_attach(session_pointer self, const AttachPtr& attach);

} // namespace agentrt::detail
