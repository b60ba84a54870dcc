#pragma once

// How a tool's handler is run on a thread that may wait for it: shared by the turns that
// call tools (TurnHub) and the tool runs a host starts outside any turn (DirectTools).
//
// Thread-safety: free functions; each call owns what it runs.

#include <agentrt/tool.hpp>

#include "core/executor.hpp"

#include <memory>
#include <stop_token>

namespace agentrt::detail {

/// Calls a tool's handler; what it throws becomes tool_failed with the exception's text. A
/// tool's own Error passes unchanged (its code and message are the tool's to choose).
ToolResult call_guarded(const ToolHandler& handler, const ToolRequest& request) noexcept;

/// Runs a blocking tool on `pool` while this thread waits, at most until `request`'s
/// deadline or `stop`; then the tool is asked to stop and abandoned (its job owns all it
/// touches): `timeout`, or `cancelled` for a stop.
ToolResult run_on_pool(Executor& pool, std::shared_ptr<const ToolHandler> handler,
                       ToolRequest request, std::stop_token stop);

/// Runs a coroutine tool on this thread to its end (see LocalDriver); `stop` and the
/// request's deadline fail its pending await.
ToolResult drive_async(Executor& pool, const AsyncToolHandler& handler, ToolRequest request,
                       std::stop_token stop);

} // namespace agentrt::detail
