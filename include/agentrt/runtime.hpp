#pragma once

// Runtime: runs agent sessions for a host application.
//
// Each session (agent type + session id) is an actor that owns its agent instance, history,
// state and queue: calls to one session run one at a time in arrival order, sessions never
// see each other's data, and one key never has two sessions taking calls (a closed
// session's abandoned blocking turn may still be finishing; it commits nothing). Idle
// sessions expire.
//
// Thread-safety: every member may be called from any thread, concurrently, except the
// destructor. `invoke` never blocks. Lifetime: the destructor shuts down (see `shutdown`)
// and returns within the drain time plus a short grace, whatever blocking handlers do (one
// that ignores its stop token is abandoned). A non-blocking handler runs on an actor
// worker and must return: one that never does holds that worker, and shutdown with it.
//
// From inside a handler: `ask`, `describe` and `close` wait for a session. From an inline
// or coroutine handler (which runs on an actor worker) they fail at once with
// `blocking_required`; from a blocking handler, `ask` to its own session (which is busy
// running it) fails with `reentrant_call`, and an `ask` that would close a cycle of
// sessions waiting on each other too. Use Turn::ask / AsyncTurn::ask for sub-agents.
// `invoke` is safe anywhere; waiting on the Call it returns, from a handler of its own
// session, is not.

#include <agentrt/agent.hpp>
#include <agentrt/async_turn.hpp>
#include <agentrt/call.hpp>
#include <agentrt/config.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/request.hpp>
#include <agentrt/result.hpp>
#include <agentrt/session_key.hpp>
#include <agentrt/stats.hpp>
#include <agentrt/tool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace agentrt {

namespace detail {
class RuntimeCore;
} // namespace detail

class Runtime {
public:
  /// Starts the actor system. Throws std::invalid_argument for an invalid config (a zero
  /// queue depth, timeout or thread count that makes no sense), and std::runtime_error
  /// when `store_path` names a file that cannot be used (the message says which and why).
  explicit Runtime(RuntimeConfig config = {});
  ~Runtime();

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // -- agents -----------------------------------------------------------------------------

  /// Registers an agent type: each session gets its own instance from `factory`. Agents
  /// can be registered at any time. Throws std::invalid_argument when `type` is not 1-64
  /// characters of [A-Za-z0-9._:-], is taken, or `factory` is empty.
  void register_agent(std::string type, AgentFactory factory, AgentOptions options = {});

  /// Registers an agent type served by one function for all its sessions (see TurnHandler).
  void register_handler(std::string type, TurnHandler handler, AgentOptions options = {});

  /// Registers a coroutine agent type: each session gets its own AsyncAgent from `factory`
  /// (called on the session's actor: it must not block). Throws as register_agent, and for
  /// `options.blocking` (a coroutine agent waits without a thread).
  void register_agent(std::string type, AsyncAgentFactory factory, AgentOptions options = {});

  /// Registers a coroutine agent type served by one coroutine function (see AsyncTurn).
  void register_handler(std::string type, AsyncTurnHandler handler, AgentOptions options = {});

  /// Registers a tool that agents call with `Turn::call_tool`. Throws std::invalid_argument
  /// when `name` is not 1-64 characters of [A-Za-z0-9._:-], is taken, or `handler` is
  /// empty.
  void register_tool(std::string name, ToolHandler handler, ToolOptions options = {});

  /// Registers a coroutine tool (see AsyncToolHandler).
  void register_tool(std::string name, AsyncToolHandler handler, ToolOptions options = {});

  // -- calls ------------------------------------------------------------------------------

  /// Starts a call and returns its handle at once. A request refused before it reaches a
  /// session (unknown agent, malformed session id, input too large, a bad timeout, the
  /// session being closed, shutdown) is an Error, and changes nothing. What the session
  /// decides (busy, overloaded, the turn's outcome) comes through the Call.
  Result<Call> invoke(Request request);

  /// A new handle on call `call_id` of session `key`, running or ended within
  /// `calls_kept_for` (one of the session's last `calls_kept`): it receives the call's
  /// events after `after_seq` (the last one the client saw; 0: all kept), with their
  /// original seq numbers, then the terminal event and the call's outcome as its Reply. For
  /// a client whose stream broke (SSE Last-Event-ID). `on_event` pushes them as in Request.
  /// Never blocks. Refused at once (an Error): unknown_agent, invalid_session_id,
  /// not_found when no session is live, shutting_down. Through the Call: not_found (the
  /// session has no such call), events_expired (it ended too long ago, or the events after
  /// `after_seq` outgrew `events_kept`), invalid_range (`after_seq` past the call's last
  /// event). Cancelling the handle stops following; the call runs on.
  Result<Call> attach(const SessionKey& key, std::uint64_t call_id, std::uint64_t after_seq = 0,
                      std::function<void(const Event&)> on_event = {});
  /// Runs one call to its end: `invoke(request)`, then waits for the reply. A refusal is a
  /// Reply with the error too, so there is one outcome to read.
  Reply ask(Request request);

  /// The one active session id of `owner` (a user id, say) for `agent`, minted atomically
  /// on first use: concurrent callers for one owner all get the same id, also across
  /// processes sharing a SQLite store. It stays the owner's until the session is closed or
  /// passes max_lifetime.
  Result<OwnerSession> session_for(std::string_view agent, std::string_view owner);

  /// Runs registered tool `call.tool` outside any turn, for `call.session_id`, and never
  /// blocks: `done` runs exactly once with the outcome, on a runtime thread (a blocking-pool
  /// thread; this thread, before run_tool returns, for a refusal or a stop requested before
  /// the call; the thread that requests `call.stop`, for a stop; the thread shutting the
  /// runtime down, for a run still going then). It must be quick and must not block; what
  /// it throws is ignored. Every kind of tool runs on the blocking pool (a coroutine tool is
  /// driven there, a blocking tool waited for there). Refusals: unknown_tool,
  /// invalid_session_id, invalid_timeout, input_too_large (the arguments and operation
  /// together over `max_input_bytes`), shutting_down. Outcomes: the tool's result or its own
  /// error; `timeout`; `cancelled` (call.stop: the run ends at once, and the tool, if it
  /// started, is asked to stop); `shutting_down` when the runtime shuts down first (then its
  /// stop token is requested, and what it returns later is dropped). A run still waiting
  /// for a pool thread when its timeout passes ends with `timeout` when one takes it up,
  /// without starting the tool: pass a stop token to end it sooner.
  void run_tool(ToolCall call, std::function<void(ToolReply)> done);

  // -- sessions ---------------------------------------------------------------------------

  /// Ends a session now: its queued calls and running turn end with `session_closed`, its
  /// history and state are dropped (also from the store), and the next call for the key
  /// starts afresh. Calls racing with close fail with `session_closed`. Blocks until the
  /// stored data is erased. The value says whether a session was live (its stored data, if
  /// any, is erased either way); `store_failed` if the store could not erase it (the
  /// stored session is then left as it was: close again).
  Result<bool> close(const SessionKey& key);

  /// A live session's vital signs; `not_found` when it is not live.
  Result<SessionInfo> describe(const SessionKey& key) const;

  /// Up to `limit` committed history entries of a session, from index `from`: read by the
  /// live session (after the calls that reached it before, never a turn's draft), or from
  /// the store when no session is live (memory and SQLite stores alike; the read does not
  /// bring the session to life). Errors: unknown_agent, invalid_session_id; not_found when
  /// neither a live session nor the store has it; invalid_range when `from` is past the
  /// end or `limit` is over `max_history_page`; store_failed. Waits like describe.
  Result<HistoryPage> history(const SessionKey& key, std::uint64_t from = 0,
                              std::size_t limit = 100) const;
  /// A session's committed state, read as `history` reads.
  Result<StateMap> state(const SessionKey& key) const;
  /// The largest `limit` of `history`.
  static constexpr std::size_t max_history_page = 10'000;

  RuntimeStats stats() const;

  /// The registered agent types, sorted (a front end lists them; a UI offers them).
  std::vector<std::string> agent_types() const;
  /// The registered tool names, sorted.
  std::vector<std::string> tool_names() const;

  const RuntimeConfig& config() const noexcept;

  // -- shutdown ---------------------------------------------------------------------------

  /// Stops accepting calls (they fail with `shutting_down`), fails queued calls with
  /// `shutting_down`, lets running turns finish for up to `drain`, then stops the rest
  /// (their calls fail with `shutting_down`) and ends every session. Idempotent.
  void shutdown(std::chrono::milliseconds drain);

private:
  std::unique_ptr<detail::RuntimeCore> core_;
};

} // namespace agentrt
