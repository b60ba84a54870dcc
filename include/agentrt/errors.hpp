#pragma once

// agentrt's error codes.
//
// Every failure that reaches a host is a value: an `std::error_code` in agentrt's own
// category, whose message says what happened and what to do about it. Exceptions are kept
// for misuse at construction or configuration time (registering an agent twice, a config
// value out of range), never for a call's outcome.

#include <string_view>
#include <system_error>

namespace agentrt {

/// The reasons a call, or a request to the runtime, can fail. Zero is success.
enum class errc : int {
  ok = 0,
  /// The request names an agent type that was never registered.
  unknown_agent,
  /// The session id is not 1-128 characters of [A-Za-z0-9._:-].
  invalid_session_id,
  /// The input is larger than `max_input_bytes`.
  input_too_large,
  /// `session_for`: the owner is empty or longer than 256 bytes.
  invalid_owner,
  /// Busy policy `reject`: the session was running a turn when the call arrived.
  session_busy,
  /// The session's queue was full (busy policy `enqueue`).
  overloaded,
  /// The agent's handler threw, called `Turn::fail`, or its factory threw.
  agent_failed,
  /// The caller cancelled the call (`Call::cancel`).
  cancelled,
  /// A later call with busy policy `interrupt` stopped this turn; its changes were kept.
  interrupted,
  /// A later call with busy policy `rollback` stopped this turn; its changes were discarded.
  rolled_back,
  /// The call did not finish before its timeout; its turn was stopped and discarded.
  timeout,
  /// The session was closed while the call was queued or running.
  session_closed,
  /// The runtime is shutting down (or was shut down) and takes no more calls.
  shutting_down,
  /// `Turn::call_tool` named a tool that was never registered.
  unknown_tool,
  /// A tool threw or reported a failure.
  tool_failed,
  /// `Turn::ask` would call back into a session already waiting in the same call chain
  /// (A -> B -> A): it would wait on itself forever.
  reentrant_call,
  /// `Turn::ask` or a blocking tool was used by an agent not registered as blocking; it
  /// would hold an actor worker while it waits.
  blocking_required,
  /// The session store failed to load or save the session; the session is unchanged.
  store_failed,
  /// An internal failure (a bug, or an exhausted heap) ended the session before the call
  /// finished; the call's changes were discarded. Logged with the cause.
  internal_error,
};

/// The category of every `errc` value; `name()` is "agentrt".
const std::error_category& error_category() noexcept;

/// Makes `std::error_code` from an `errc` (found by argument-dependent lookup).
std::error_code make_error_code(errc e) noexcept;

/// The enum value's name, e.g. "session_busy"; "unknown" for values outside the enum.
std::string_view to_string(errc e) noexcept;

} // namespace agentrt

template <>
struct std::is_error_code_enum<agentrt::errc> : std::true_type {};
