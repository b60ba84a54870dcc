#pragma once

// Tools: host functions an agent calls during a turn (search flights, read a file, ...).
// Every tool call carries the session it serves, and is recorded in that session's history.

#include <agentrt/result.hpp>
#include <agentrt/task.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>

namespace agentrt {

/// What a tool handler is asked.
struct ToolRequest {
  std::string tool;
  /// Free-form: the operation within the tool ("search", "book"), may be empty.
  std::string operation;
  /// Free-form arguments, typically JSON.
  std::string arguments;
  /// The session and call the tool serves (the calling turn's).
  std::string agent;
  std::string session_id;
  std::uint64_t call_id = 0;
  /// The calling turn's number in its session, and its call's request id (empty if none).
  /// With `session_id` an idempotency key for what the tool does elsewhere: a turn that
  /// failed (its node died or lost the session) and is retried with its request id runs
  /// as the same turn number, on this node or another, so its tool calls repeat with the
  /// same key. Zero and empty for a tool run outside a turn (Runtime::run_tool).
  std::uint64_t turn = 0;
  std::string request_id;
  /// The tool must be done by then; past it the caller gets a timeout error.
  std::chrono::steady_clock::time_point deadline;
  /// Requested when the calling turn is stopped or the tool timed out.
  std::stop_token stop;
};

/// What a tool returns: its result, or an Error. A tool's own error code (any category)
/// reaches the calling turn unchanged; `errc::tool_failed` is the usual one. What the tool
/// throws becomes `tool_failed` with the exception's text.
using ToolResult = Result<std::string>;

/// A tool handler. It may run concurrently for different sessions.
using ToolHandler = std::function<ToolResult(const ToolRequest& request)>;

/// A coroutine tool: it may await (agentrt::wait_for) without holding a thread. From a
/// coroutine turn it runs in the turn's coroutine, on its session's actor; from a blocking
/// turn it is driven on that turn's thread; an inline turn cannot call it
/// (`blocking_required`). `ToolOptions::blocking` does not apply to it.
using AsyncToolHandler = std::function<Task<ToolResult>(const ToolRequest& request)>;

struct ToolOptions {
  /// True when the handler blocks (network, disk): it runs on the blocking pool and can be
  /// timed out; only blocking agents may call it. Non-blocking tools run on the caller's
  /// thread.
  bool blocking = false;
  /// Longest a call may take; unset: the calling turn's remaining time.
  std::optional<std::chrono::milliseconds> timeout;
};


/// A tool run a host starts outside any turn (`Runtime::run_tool`): a gRPC ExecuteTool, a
/// bridge that forwards tool calls. The tool sees it as a ToolRequest with `call_id` 0.
struct ToolCall {
  std::string tool;
  std::string operation;
  std::string arguments;
  /// The session the tool serves: 1-128 characters of [A-Za-z0-9._:-], or empty for a
  /// minted UUID v4. Only passed on: no session is created, read or changed.
  std::string session_id;
  /// Who asks (ToolRequest::agent); may be empty.
  std::string agent;
  /// Unset: the runtime's `default_timeout`. The tool's own timeout applies if sooner.
  std::optional<std::chrono::milliseconds> timeout;
  /// A stop asks the tool to stop (its ToolRequest::stop) and ends the run with `cancelled`.
  std::stop_token stop;
};

/// The outcome of a ToolCall. `error` is zero on success; otherwise `message` says why.
struct ToolReply {
  /// The session the tool served (the minted one when the call named none).
  std::string session_id;
  std::string tool;
  std::string result;
  std::error_code error;
  std::string message;
  bool ok() const noexcept { return !error; }
};

} // namespace agentrt
