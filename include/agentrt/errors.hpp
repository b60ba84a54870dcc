#pragma once

// agentrt's error codes, and the groups they fall into.
//
// Every failure that reaches a host is a value: an `std::error_code` in agentrt's own
// category, whose message says what happened and what to do about it, with the specifics in
// the Reply's or Error's `message`. Exceptions are kept for misuse at set-up (registering an
// agent twice, a config value out of range), never for an outcome.
//
// Each code belongs to one `condition`, a group a front end maps to a protocol status with
// one switch (`switch (condition_of(ec))`), or a host tests with `ec == condition::busy`.

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
  /// The session's queue was full.
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
  /// The call would wait on a session that is already waiting in its chain (A -> B -> A),
  /// or a handler would wait on its own session: it would wait on itself forever.
  reentrant_call,
  /// `Turn::ask` or a blocking tool was used by an agent not registered as blocking; it
  /// would hold an actor worker while it waits.
  blocking_required,
  /// The session store failed to load or save the session; the session is unchanged.
  store_failed,
  /// An internal failure (a bug, or an exhausted heap) ended the session before the call
  /// finished; the call's changes were discarded. Logged with the cause.
  internal_error,
  /// The session (or what was asked of it) does not exist.
  not_found,
  /// `Request::timeout` is zero or negative.
  invalid_timeout,
  /// An asynchronous operation a coroutine turn awaited dropped its Completion without
  /// completing it.
  abandoned,
  /// A position asked for is beyond what exists: a history index past its end, a page
  /// larger than allowed, an event seq the call has not reached.
  invalid_range,
  /// `Request::request_id` is not 1-128 characters of [A-Za-z0-9._:-].
  invalid_request_id,
  /// `Request::request_id` was used before in this session with a different input.
  request_id_reused,
  /// Re-attach asked for events the runtime no longer keeps (the call ended too long ago,
  /// or its stream outgrew what is kept).
  events_expired,
  /// Another node (process) holds the session's lease (a store shared by several nodes,
  /// e.g. PostgreSQL): this node may not serve it now. The message names the owner's
  /// address (`elsewhere_address` reads it back); retry there, or here after the lease.
  session_elsewhere,
  /// This node lost the session's lease while the call ran (it was paused or cut off, and
  /// another node took the session over): the turn was not committed and the session was
  /// dropped here. Retry (with the same request id): the session's owner answers.
  lease_lost,
};

/// The groups of `errc` values: what a front end needs to pick a status.
enum class condition : int {
  /// The request is malformed (400, INVALID_ARGUMENT): invalid_session_id, invalid_owner,
  /// invalid_timeout, invalid_range, invalid_request_id, request_id_reused.
  invalid_request = 1,
  /// The request is too large (413, INVALID_ARGUMENT): input_too_large.
  too_large,
  /// What it names does not exist (404, NOT_FOUND): unknown_agent, unknown_tool, not_found.
  not_found,
  /// The session is busy and the call asked not to wait (409, ABORTED): session_busy.
  busy,
  /// Too much is waiting; retry later (429, RESOURCE_EXHAUSTED): overloaded.
  overloaded,
  /// A caller or a later call ended it (409, CANCELLED): cancelled, interrupted, rolled_back.
  cancelled,
  /// The session was closed under it, or what was asked for is no longer kept (410,
  /// ABORTED): session_closed, events_expired.
  gone,
  /// It did not finish in time (504, DEADLINE_EXCEEDED): timeout.
  timeout,
  /// Not available now; retry (503, UNAVAILABLE): shutting_down, store_failed, lease_lost.
  unavailable,
  /// The agent or a tool failed the task (502, or a task-level failure): agent_failed,
  /// tool_failed, abandoned.
  failed,
  /// The agents are set up so that this cannot work (500, FAILED_PRECONDITION):
  /// reentrant_call, blocking_required.
  misconfigured,
  /// A bug in agentrt (500, INTERNAL): internal_error.
  internal,
  /// Another node serves the session; retry there or later (421, UNAVAILABLE):
  /// session_elsewhere.
  elsewhere,
};

/// The category of every `errc` value; `name()` is "agentrt".
const std::error_category& error_category() noexcept;

/// The category of every `condition`; `name()` is "agentrt.condition".
const std::error_category& condition_category() noexcept;

/// Makes `std::error_code` from an `errc` (found by argument-dependent lookup).
std::error_code make_error_code(errc e) noexcept;

/// Makes `std::error_condition` from a `condition` (found by argument-dependent lookup).
std::error_condition make_error_condition(condition c) noexcept;

/// The group of `ec`: its agentrt condition, or `internal` for a code agentrt does not know
/// (a store's or tool's own category), and for success.
condition condition_of(const std::error_code& ec) noexcept;

/// The enum value's name, e.g. "session_busy"; "unknown" for values outside the enum.
std::string_view to_string(errc e) noexcept;

/// The condition's name, e.g. "busy"; "unknown" for values outside the enum.
std::string_view to_string(condition c) noexcept;

} // namespace agentrt

template <>
struct std::is_error_code_enum<agentrt::errc> : std::true_type {};

template <>
struct std::is_error_condition_enum<agentrt::condition> : std::true_type {};
