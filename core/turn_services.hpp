#pragma once

// TurnServices: what a running turn reaches beyond its own session: tools, sub-agents and
// the pool it waits on. Implemented by the runtime; a Turn reaches it through its context.

#include <agentrt/call.hpp>
#include <agentrt/tool.hpp>
#include <agentrt/turn.hpp>

#include "core/call_state.hpp"
#include "core/fwd.hpp"

#include <string>

namespace agentrt::detail {


class TurnServices {
public:
  virtual ~TurnServices() = default;

  /// Starts a sub-call of `parent` in session (request.agent, parent's session id): it
  /// inherits the parent's deadline, extends its chain, and forwards its events to it. A
  /// chain that would come back to a session in it fails at once with `reentrant_call`.
  virtual Call start_child(const CallPtr& parent, SubRequest request) = 0;

  /// Runs tool `name` for the turn `ctx` (see Turn::call_tool).
  virtual ToolResult run_tool(TurnContext& ctx, const std::string& name,
                              std::string arguments, std::string operation) = 0;

  /// The pool blocking turns run on (to mark waits on sub-calls and tools).
  virtual Executor& pool() = 0;
};

} // namespace agentrt::detail
