#pragma once

// Agent: the host's code that answers one session's calls.

#include <agentrt/history.hpp>
#include <agentrt/result.hpp>
#include <agentrt/session_key.hpp>
#include <agentrt/task.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace agentrt {

class AsyncTurn;
class Turn;

/// An agent instance serves exactly one session: the runtime creates it with the registered
/// factory on the session's first turn and destroys it when the session ends. `handle` is
/// never called concurrently for one instance, so an agent may keep plain member data.
/// Data that must survive expiry belongs in `Turn::state()` or the history, not in members.
class Agent {
public:
  virtual ~Agent() = default;

  /// Runs one turn and returns the assistant's output. Throwing (or `Turn::fail`) fails the
  /// call with `agent_failed` and leaves the session as it was before the turn.
  virtual std::string handle(Turn& turn) = 0;
};

/// A coroutine agent: its turns are coroutines that run on their session's actor and hold no
/// thread while they wait (on a model, a tool, a sub-agent, a timer). See AsyncTurn. Like
/// an Agent, an instance serves one session and is never called concurrently.
class AsyncAgent {
public:
  virtual ~AsyncAgent() = default;

  /// Runs one turn; `co_return`s the assistant's output. Throwing (or `fail`) fails the
  /// call with `agent_failed` and leaves the session as it was before the turn.
  virtual Task<std::string> handle(AsyncTurn& turn) = 0;
};

/// Creates the agent instance for one session. Called once per session, on its first turn,
/// on the thread that runs that turn. May throw: the call fails with `agent_failed` and the
/// next call to the session tries again.
using AgentFactory = std::function<std::unique_ptr<Agent>(const SessionKey& key)>;

/// Creates a coroutine agent's instance, on its session's actor (it must not block).
using AsyncAgentFactory = std::function<std::unique_ptr<AsyncAgent>(const SessionKey& key)>;

/// A handler for `register_handler`: one function serving every session of an agent type.
/// It can run concurrently for different sessions, so it must keep per-session data in
/// `Turn::state()`, never in captured variables.
using TurnHandler = std::function<std::string(Turn& turn)>;

/// A coroutine handler for `register_handler`: one coroutine function serving every session
/// of an agent type (per-session data goes in `AsyncTurn::state()`).
using AsyncTurnHandler = std::function<Task<std::string>(AsyncTurn& turn)>;

/// A bound on the history a session keeps (and its handlers see); 0: no bound on that
/// measure. Past it, a turn's commit folds the oldest entries (see Compactor), down to
/// half the bound, so compaction runs once per many turns.
struct HistoryLimit {
  std::size_t max_entries = 0;
  /// Bytes of entry content.
  std::size_t max_bytes = 0;
};

/// The oldest entries of a session's history, to fold into one summary.
struct Compaction {
  SessionKey key;
  /// Oldest first.
  std::vector<Message> entries;
  /// Set when the turn is stopped (cancel, timeout, shutdown): give up.
  std::stop_token stop;
};

/// Folds the oldest entries into the text of one summary entry (role `system`, name
/// "summary"), which takes their place; typically a model call, so it is a coroutine (a
/// plain function can `co_return` at once). It runs as part of the turn's commit, in the
/// turn's own way of waiting: on its pool thread for a blocking agent, in its coroutine
/// chain for a coroutine agent. An Error or an exception leaves the history as it was
/// (over the bound until a later commit compacts it) and fails nothing: the turn commits.
using Compactor = std::function<Task<Result<std::string>>(const Compaction& oldest)>;

/// Per-agent-type options.
struct AgentOptions {
  /// True when the handler blocks (network, LLM, disk). Blocking handlers run on the
  /// runtime's blocking pool, so they never stall the actor workers that serve every other
  /// session, and their calls can be cancelled or timed out while they run. Coroutine
  /// agents are never blocking (they wait without a thread): true is refused for them. Non-blocking
  /// handlers run inline on an actor worker: the fastest path, for handlers that finish in
  /// microseconds. Calls that arrive while an inline turn runs find the session busy, as
  /// with a blocking turn: busy policies, the queue bound and timeouts apply to them.
  bool blocking = false;
  /// Per-session queue bound for this agent type; unset: `RuntimeConfig::max_queue_depth`.
  std::optional<std::size_t> max_queue_depth;
  /// Bounds the history of each session of this type (default: unbounded).
  HistoryLimit history_limit;
  /// Folds the oldest entries into a summary when the history passes `history_limit`;
  /// unset: they are dropped. Inline agents cannot have one (it may wait): registering
  /// one throws std::invalid_argument.
  Compactor compactor;
};

} // namespace agentrt
