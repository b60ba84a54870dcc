#pragma once

// SessionData: what one session owns (agent instance, history, state), and the two steps of
// a transactional turn over it: `run_turn` (the handler works on a draft) and `commit_turn`
// (the draft becomes the session's). Plain data and free functions, so the transaction
// rules can be tested without actors.
//
// Thread-safety: none. The session actor owns a SessionData; while a blocking turn runs on
// the pool, that thread reads it and the actor does not write it until the turn is back.

#include <agentrt/agent.hpp>
#include <agentrt/async_turn.hpp>
#include <agentrt/task.hpp>
#include <agentrt/history.hpp>
#include <agentrt/session_key.hpp>
#include <agentrt/session_store.hpp>
#include <agentrt/turn.hpp>

#include "core/call_state.hpp"
#include "core/fwd.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace agentrt::detail {


struct SessionData {
  SessionKey key;
  /// Owned: a factory may still run on a pool thread after the Runtime is gone.
  std::shared_ptr<const AgentEntry> entry;
  /// Created by the entry's factory on the first turn that needs it (one of the two, as the
  /// agent type is).
  std::unique_ptr<Agent> agent;
  std::unique_ptr<AsyncAgent> async_agent;
  History history;
  StateMap state;
  /// Committed turns.
  std::uint64_t turns = 0;
  /// When the session was first created (kept across passivation).
  std::chrono::system_clock::time_point created = std::chrono::system_clock::now();
  /// Its id was minted for a one-shot call: it ends once idle.
  bool one_shot = false;
  /// It is never loaded, stored or handed over (a one-shot session and its sub-sessions).
  bool ephemeral = false;
};

/// One turn in progress: the handler's draft of changes and its outcome.
struct TurnContext {
  TurnContext(CallPtr call_, std::shared_ptr<SessionData> session_)
    : call(std::move(call_)),
      session(std::move(session_)),
      number(session->turns + 1),
      state(session->state) {
    // nop
  }

  CallPtr call;
  std::shared_ptr<SessionData> session;
  /// Tools and sub-agents; null where none are available (tests of one actor).
  TurnServices* services = nullptr;
  /// True when the turn runs on the blocking pool (it may wait on sub-calls and tools).
  bool blocking = false;
  std::uint64_t number;
  TurnState state;
  std::vector<Message> appended;
  std::string output;
  /// Compaction: the oldest committed entries the commit folds, and the summary that
  /// replaces them (none: dropped). See core/compaction.hpp.
  std::size_t fold = 0;
  std::optional<std::string> summary;
  bool failed = false;
  /// Set by the session when the turn ended past the call's deadline.
  bool timed_out = false;
  std::string failure;
  Clock::time_point started{};
  Clock::time_point finished{};
};

/// Runs the agent's handler for `ctx` (creating the agent first if needed), catching every
/// exception: afterwards either `ctx.failed` is set with a message, or `ctx.output` holds
/// the result. The caller stamps `started` and `finished` (with the clock it already reads).
void run_turn(TurnContext& ctx) noexcept;

/// Starts a coroutine agent's turn: creates the agent if needed and calls its handler with
/// `turn`, leaving the (not yet started) coroutine in `task`. False, with `ctx.failed` set,
/// if the factory or the handler threw before there was a coroutine.
bool start_coroutine_turn(TurnContext& ctx, AsyncTurn& turn, Task<std::string>& task) noexcept;

/// What a successful turn adds to the session: the user's input, the turn's own entries
/// and the assistant's output (moved out of `ctx`), and its state writes.
TurnRecord make_record(const SessionData& session, TurnContext& ctx);

/// Applies `record` (made by make_record for this session) to the session.
void apply_record(SessionData& session, TurnRecord&& record);

/// make_record + apply_record.
void commit_turn(SessionData& session, TurnContext& ctx);

} // namespace agentrt::detail
