#pragma once

// Turn: what an agent's handler sees while it runs one call (AsyncTurn, in async_turn.hpp,
// is the coroutine handler's).
//
// Thread-safety: a Turn belongs to the one thread running the handler; it must not be used
// after the handler returns. Everything a handler changes through it (state writes, appended
// history) is a draft, committed only when the handler returns normally and the call is not
// cancelled, timed out or rolled back. A failed turn leaves the session exactly as it was.

#include <agentrt/history.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/request.hpp>
#include <agentrt/tool.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace agentrt {

namespace detail {
struct TurnContext;
} // namespace detail

/// The session's key-value state as seen by one turn: committed values overlaid with this
/// turn's own writes. Writes become visible to later turns only when this turn commits.
class TurnState {
public:
  /// `committed` must outlive this object.
  explicit TurnState(const StateMap& committed) noexcept : committed_(&committed) {
    // nop
  }

  /// The current value of `key`, or nullopt when it is unset (or erased by this turn).
  std::optional<std::string> get(std::string_view key) const;

  /// The current value of `key`, or `fallback`.
  std::string get_or(std::string_view key, std::string_view fallback) const;

  bool contains(std::string_view key) const;

  void set(std::string key, std::string value);

  void erase(std::string_view key);

  /// This turn's writes; nullopt marks an erase. Applied in key order on commit.
  const std::map<std::string, std::optional<std::string>, std::less<>>& writes() const noexcept {
    return writes_;
  }

private:
  const StateMap* committed_;
  std::map<std::string, std::optional<std::string>, std::less<>> writes_;
};

/// One sub-agent call for `Turn::ask_all`.
struct SubRequest {
  std::string agent;
  std::string input;
  Params params;
};

/// What every kind of turn offers its handler: the call, the session's context and this
/// call's event stream. `Turn` (blocking and inline handlers) and `AsyncTurn` (coroutine
/// handlers) add the ways to call tools and sub-agents that fit how they run.
class TurnBase {
public:
  explicit TurnBase(detail::TurnContext& ctx) noexcept : ctx_(ctx) {
    // nop
  }

  TurnBase(const TurnBase&) = delete;
  TurnBase& operator=(const TurnBase&) = delete;

  // -- what is being asked ----------------------------------------------------------------

  const std::string& agent() const noexcept;
  const std::string& session_id() const noexcept;
  std::uint64_t call_id() const noexcept;
  /// This turn's number in its session: committed turns so far + 1.
  std::uint64_t number() const noexcept;
  const std::string& input() const noexcept;
  const Params& params() const noexcept;
  /// The named parameter, or `fallback` when absent.
  std::string_view param(std::string_view name, std::string_view fallback = {}) const;

  // -- the session's context --------------------------------------------------------------

  /// Committed history of earlier turns, oldest first (this turn's input is not in it yet).
  const History& history() const noexcept;

  /// The session's state, transactional with this turn.
  TurnState& state() noexcept;

  /// Adds an entry to the history, committed with this turn (after the user's input and
  /// before the assistant's output).
  void append(Message message);

  // -- this call's event stream -----------------------------------------------------------

  /// Sends a `chunk` event to this call's stream, and only this call's.
  void emit(std::string chunk);
  /// Sends a `phase` event (a named step: "searching", "summarising").
  void phase(std::string name);
  /// Sends a `thought` event.
  void thought(std::string text);

  // -- stopping ---------------------------------------------------------------------------

  /// True once the call was cancelled, timed out, interrupted, rolled back or closed, or the
  /// runtime's shutdown drain time ran out. A handler that checks it and returns early
  /// frees its session sooner.
  bool stop_requested() const noexcept;
  std::stop_token stop_token() const noexcept;

  /// Marks the turn failed: the caller gets `agent_failed` with `message`, the handler's
  /// return value is ignored and nothing is committed. Same effect as throwing.
  void fail(std::string message);

protected:
  detail::TurnContext& ctx_;
};

/// The view of a turn for inline and blocking handlers: tools and sub-agents are called and
/// waited for on the handler's thread.
class Turn : public TurnBase {
public:
  using TurnBase::TurnBase;

  /// Calls a registered tool for this session. The call and its result are appended to
  /// this turn's history (roles `tool_call` and `tool_result`, named after the tool, so
  /// later turns find them in `history()`) and reported as `tool_call` / `tool_result`
  /// events on this call's stream. Failures come back as an Error, never as exceptions:
  /// the tool's own, or `unknown_tool`, `tool_failed` (it threw), `timeout`, `cancelled`,
  /// `blocking_required` (a blocking or coroutine tool from an inline agent).
  ToolResult call_tool(const std::string& tool, std::string arguments,
                       std::string operation = {});

  /// Runs a turn of `agent` in the same conversation: the session (agent, this session id).
  /// Blocks until it is done and returns its reply. The sub-call inherits this call's
  /// deadline and stop token (cancelling this call cancels it); its body events are
  /// forwarded to this call's stream, tagged with `agent`. A call that would close a cycle
  /// of sessions waiting on each other (A -> B -> A, within a chain or across calls) fails
  /// at once with `reentrant_call`. Requires a blocking agent (`blocking_required`).
  Reply ask(const std::string& agent, std::string input, Params params = {});

  /// Runs several sub-agents in parallel and returns when all are done (replies in the
  /// order of `requests`): the wall time is the slowest one's, not the sum.
  std::vector<Reply> ask_all(std::vector<SubRequest> requests);
};

} // namespace agentrt
