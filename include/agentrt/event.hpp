#pragma once

// Event: one entry of a call's own event stream.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace agentrt {

/// What an event reports. A call's stream is: optionally `queued`, then `started`, then any
/// number of `phase`, `thought`, `chunk`, `tool_call`, `tool_result`, and exactly one terminal
/// event (`completed`, `failed` or `cancelled`) last. A call that is refused before it reaches
/// its session (bad input, overloaded, ...) has the terminal event only.
enum class EventKind : std::uint8_t {
  queued,      ///< Waiting behind a running turn; `queue_position` is 1 for "next".
  started,     ///< The turn began running the agent's handler.
  phase,       ///< `Turn::phase`: the handler entered a named step.
  thought,     ///< `Turn::thought`: reasoning the handler chose to show.
  chunk,       ///< `Turn::emit`: a piece of the output, as it is produced.
  tool_call,   ///< `Turn::call_tool` called `tool`; `data` is the arguments.
  tool_result, ///< The tool returned; `data` is its result, or its error (see `error`).
  completed,   ///< Terminal: the turn succeeded and was committed; `data` is the output.
  failed,      ///< Terminal: see `error`; `data` is the message. Nothing was committed.
  cancelled,   ///< Terminal: cancelled, interrupted or rolled back; see `error`.
};

/// The kind's name as used on the wire: "queued", "started", ..., "cancelled".
std::string_view to_string(EventKind kind) noexcept;

/// True for `completed`, `failed` and `cancelled`.
constexpr bool is_terminal(EventKind kind) noexcept {
  return kind == EventKind::completed || kind == EventKind::failed
         || kind == EventKind::cancelled;
}

/// One event of one call. Every event names the session and call it belongs to, so an event
/// that reached the wrong consumer would be visible as such.
struct Event {
  EventKind kind = EventKind::started;
  /// The session the call ran in (the minted id for one-shot sessions).
  std::string session_id;
  /// The call's id, unique within one Runtime.
  std::uint64_t call_id = 0;
  /// 1, 2, 3, ... within one call; no gaps, no repeats.
  std::uint64_t seq = 0;
  /// The agent type that produced it: the call's own agent, or a sub-agent's name for
  /// events forwarded from `Turn::ask`. Only body events (phase, thought, chunk, tool_call,
  /// tool_result) are forwarded: a sub-call's queued, started and terminal events stay on
  /// its own call, so the parent's stream keeps the grammar above.
  std::string agent;
  /// For `tool_call` and `tool_result`: the tool's name.
  std::string tool;
  /// The payload: chunk text, phase name, thought, output or error message.
  std::string data;
  /// For `queued`: 1-based position in the session's queue.
  std::size_t queue_position = 0;
  /// For `failed` and `cancelled`: why.
  std::error_code error;
  /// For terminal events: the session's turn the call ran as (`Reply::turn`); 0 if none.
  std::uint64_t turn = 0;

  bool terminal() const noexcept { return is_terminal(kind); }
};

} // namespace agentrt
