#pragma once

// The session actor: owns one session's agent instance, history, state and queue, and runs
// one turn at a time. It is a state struct (plain data: the actor is the lock) and a
// behavior whose handlers delegate to the steps in actors/session/:
//
//   calls.cpp      a call arrives: it runs, waits in the CallQueue or gets its busy policy;
//                  withdrawals and deadlines
//   turns.cpp      a turn runs (inline on the actor, or on the blocking pool) and ends
//   commit.cpp     a durable store writes the turn before its reply is released
//   lifecycle.cpp  load, hand-over to the store, expiry, close, drain, describe
//
// The transactional turn itself (a draft, then commit) is core/session_data.hpp.

#include "actors/fwd.hpp"
#include "actors/messages.hpp"
#include "core/call_log.hpp"
#include "core/call_queue.hpp"
#include "core/fwd.hpp"
#include "core/metrics.hpp"
#include "core/session_data.hpp"

#include <agentrt/async_turn.hpp>
#include <agentrt/await.hpp>
#include <agentrt/session_key.hpp>
#include <agentrt/task.hpp>

#include <caf/stateful_actor.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>

namespace caf {
class actor_system;
} // namespace caf

namespace agentrt::detail {

/// What becomes of a turn when it ends.
enum class Disposition : std::uint8_t {
  commit,    ///< commit and complete (unless the call already ended)
  interrupt, ///< commit and end the call with `interrupted`
  discard,   ///< the call already ended (timeout, rollback, close, shutdown): drop the draft
};

struct TurnJob;
struct SessionState;
using session_pointer = session_actor::stateful_pointer<SessionState>;

/// A coroutine turn in progress: the handler's view, its Task, and its pending await.
struct CoroutineTurn final : AwaitContext {
  CoroutineTurn(session_pointer self, TurnJob& job) noexcept : self(self), job(job) {
    // nop
  }

  /// The awaits of this turn are resumed on its session; a turn told to stop fails them.
  void suspend(const std::shared_ptr<AwaitSlot>& slot) override;
  /// A timer on the session actor.
  void after(std::chrono::steady_clock::duration delay, std::function<void()> fn) override;

  session_pointer self;
  TurnJob& job;
  /// Counts the turn in running_turns until its handler is done (or the job goes).
  GaugeToken running;
  /// The await the coroutine is suspended on, if any.
  std::shared_ptr<AwaitSlot> awaiting;
  /// Why the turn must stop (cancel, timeout, interrupt...): every await fails with it.
  std::optional<Error> abort;
  /// Why its compactor must stop (the call's deadline, an urgent call): every await of the
  /// compactor fails with it; the turn itself goes on to commit.
  std::optional<Error> stop_compaction;
  std::optional<AsyncTurn> turn;
  /// The agent's compactor, when the turn's commit folds the history: the entries it
  /// folds (it holds a reference), how many, and its task.
  std::optional<Compaction> oldest;
  std::size_t folding = 0;
  Task<Result<std::string>> compaction;
  /// Declared last: destroyed first, while the turn and context it refers to still exist.
  Task<std::string> task;
};

/// A turn that has not ended within one handler: a blocking turn on the pool, a coroutine
/// turn, an inline turn whose end waits behind the calls that arrived during it, or a
/// finished turn being written by a durable store.
struct TurnJob {
  /// A turn about to run (blocking or coroutine): it may run the agent's compactor.
  TurnJob(CallPtr call, std::shared_ptr<SessionData> session)
    : ctx(std::move(call), std::move(session)), compaction_stop() {
    // nop
  }
  /// A turn whose handler is done (its end deferred, or written by a durable store): its
  /// compaction, if any, is planned already, so it gets no stop state to allocate.
  explicit TurnJob(TurnContext&& done) : ctx(std::move(done)) {
    // nop
  }
  TurnContext ctx;
  /// Keeps ctx.services alive while the job may outlive the runtime.
  std::shared_ptr<TurnServices> services;
  Disposition disposition = Disposition::commit;
  /// Set on the actor once the handler is known to be done (its end deferred behind the
  /// mailbox): its call's deadline no longer applies.
  bool ended = false;
  /// Set for a coroutine turn.
  std::unique_ptr<CoroutineTurn> coroutine;
  /// The handler is done and the agent's compactor runs (on the pool thread for a blocking
  /// turn: hence atomic). A deadline or an urgent call then stops the compactor instead of
  /// the turn, which commits uncompacted.
  std::atomic<bool> compacting{false};
  std::stop_source compaction_stop{std::nostopstate};

  // -- durable commit: the call is claimed, the store is writing `record` -------------------
  std::shared_ptr<TurnRecord> record;
  Reply reply;
  EventKind terminal = EventKind::completed;
  Result<void> persisted; // written by the store before `persisted` is sent
};

class SessionRef;

struct SessionState {
  static inline const char* name = "agentrt.session";

  enum class Mode : std::uint8_t { open, closing, draining, failed };

  SessionState() = default;
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;
  /// Ends whatever is still queued or running (the session is going away) so that no
  /// accepted call is left without an outcome.
  ~SessionState();

  Services* svc = nullptr;
  MetricStripe* stripe = nullptr;
  std::size_t hash = 0;
  std::shared_ptr<SessionData> data;
  ActivityPtr activity;
  /// Created on first need (a call that waits, a coroutine that suspends), so idle sessions
  /// stay small.
  std::shared_ptr<SessionRef> ref;
  /// Calls waiting behind the running turn.
  CallQueue queue;
  /// Recent calls (for attach) and request ids.
  CallLog calls;
  /// This actor's id, to leave the directory if it dies without retiring.
  caf::actor_id id = 0;
  /// The turn that has not ended yet (see TurnJob), if any.
  TurnJobPtr running;
  /// When the earliest pending deadline timer fires (max: none pending).
  Clock::time_point timer_at = Clock::time_point::max();
  /// When this actor started serving its conversation (actor clock, ns): at spawn, and again
  /// when a lifetime reset made the conversation new.
  std::int64_t born = 0;
  Mode mode = Mode::open;
  /// True once the stored context (if any) was brought back, on the first call.
  bool loaded = false;
  /// True once the first call said whether the session is one-shot or ephemeral.
  bool classified = false;
  std::uint64_t turns_run = 0;
  std::int64_t turn_time_ns = 0;
};

/// The behavior of a session actor for `key`. `entry` is owned: a factory may still run on
/// a pool thread after the Runtime is gone.
session_actor::behavior_type session_behavior(session_pointer self, SessionKey key,
                                              std::shared_ptr<const AgentEntry> entry,
                                              Services* svc, std::size_t hash,
                                              ActivityPtr activity);

/// CAF 0.17 makes the system's logger the "current logger" of every thread that spawns a
/// top-level actor (a thread-local reference), and ~actor_system waits until the logger is
/// gone. A host thread that spawned a session and is still alive when the Runtime is
/// destroyed on another thread would hold that reference and hang the destruction. Our
/// threads call this right after spawning; nothing of ours logs through CAF's logger.
void release_caf_logger_reference() noexcept;

/// Releases it on the calling CAF worker thread, once: see actor.cpp.
void quiet_caf_logger_here() noexcept;

/// Spawns the session for `key`, counts it, and hands it to its supervisor shard (if any),
/// asking for an eviction when `max_sessions` is exceeded.
session_actor spawn_session(caf::actor_system& sys, Services& svc, SessionKey key,
                            std::shared_ptr<const AgentEntry> entry, std::size_t hash);

} // namespace agentrt::detail
