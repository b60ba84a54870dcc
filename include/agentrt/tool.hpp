#pragma once

// Tools: host functions an agent calls during a turn (search flights, read a file, ...).
// Every tool call carries the session it serves, and is recorded in that session's history.

#include <chrono>
#include <cstdint>
#include <functional>
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
  /// The tool must be done by then; past it the caller gets a timeout error.
  std::chrono::steady_clock::time_point deadline;
  /// Requested when the calling turn is stopped or the tool timed out.
  std::stop_token stop;
};

/// What a tool returns. The runtime fills `session_id` with the request's.
struct ToolResponse {
  bool ok = true;
  std::string result;
  /// Why it failed, when !ok.
  std::string error;
  /// `unknown_tool`, `tool_failed`, `timeout` or `blocking_required` when !ok.
  std::error_code code;
  std::string session_id;
};

/// A tool handler. It may run concurrently for different sessions.
using ToolHandler = std::function<ToolResponse(const ToolRequest& request)>;

struct ToolOptions {
  /// True when the handler blocks (network, disk): it runs on the blocking pool and can be
  /// timed out; only blocking agents may call it. Non-blocking tools run on the caller's
  /// thread.
  bool blocking = false;
  /// Longest a call may take; 0 means the calling turn's remaining time.
  std::chrono::milliseconds timeout{0};
};

} // namespace agentrt
