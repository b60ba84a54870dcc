#pragma once

// TurnServices: what a running turn reaches beyond its own session: tools, sub-agents and
// the pool it waits on. Implemented by the runtime; a Turn reaches it through its context.

#include <agentrt/agent.hpp>
#include <agentrt/async_turn.hpp>
#include <agentrt/call.hpp>
#include <agentrt/tool.hpp>
#include <agentrt/turn.hpp>

#include "core/call_state.hpp"
#include "core/fwd.hpp"
#include "core/wait_graph.hpp"

#include <string>

namespace agentrt::detail {

/// A sub-call and the wait it puts in the wait-for graph (released when the token goes:
/// hold it while waiting for the call).
struct ChildCall {
  Call call;
  WaitEdge waiting;
};

class TurnServices {
public:
  virtual ~TurnServices() = default;

  /// Starts a sub-call of `parent` in session (request.agent, parent's session id): it
  /// inherits the parent's deadline, extends its chain, and forwards its body events to it.
  /// A call that would close a cycle of waiting sessions fails at once with
  /// `reentrant_call`; a refused call is one that has already ended.
  virtual ChildCall start_child(const CallPtr& parent, SubRequest request) = 0;

  /// Runs tool `name` for the inline or blocking turn `ctx`, waiting on this thread (see
  /// Turn::call_tool).
  virtual ToolResult run_tool(TurnContext& ctx, const std::string& name,
                              std::string arguments, std::string operation) = 0;

  /// Resolves tool `name` for the coroutine turn `ctx` (see AsyncTurn::call_tool).
  virtual ToolStart start_tool(TurnContext& ctx, const std::string& name,
                               std::string arguments, std::string operation) = 0;

  /// The pool blocking turns run on (to mark waits on sub-calls and tools).
  virtual Executor& pool() = 0;
  /// Runs `compactor` for the blocking turn `ctx` to its end on this thread (a pool
  /// thread), until the call's stop or `stop` (the session's: a deadline or an urgent
  /// call); an exception becomes an Error.
  virtual Result<std::string> run_compactor(TurnContext& ctx, const Compactor& compactor,
                                            const Compaction& oldest, std::stop_token stop) = 0;
};

} // namespace agentrt::detail
