#pragma once

// Counters a host can read from a Runtime.

#include <agentrt/session_key.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace agentrt {

/// A snapshot of the runtime's counters. Gauges (live, queued, running) are current values;
/// the rest count since the Runtime was created.
struct RuntimeStats {
  std::size_t live_sessions = 0;
  std::size_t queued_calls = 0;
  /// Turns whose handler runs now: inline and blocking handlers executing (a blocking turn
  /// still waiting for a pool thread is not counted) and coroutine turns between their start
  /// and their end, suspended ones included (they hold no thread).
  std::size_t running_turns = 0;
  std::uint64_t turns_completed = 0;
  std::uint64_t turns_failed = 0;
  /// Calls the session had accepted (queued or started) that ended by cancel, interrupt,
  /// rollback, timeout, close, shutdown or an internal failure, and cancels of calls on
  /// their way to a session.
  std::uint64_t turns_cancelled = 0;
  /// Calls refused before a session accepted them: bad input, `session_busy`,
  /// `overloaded`, a store that could not load the session, a session being closed,
  /// shutdown.
  std::uint64_t calls_rejected = 0;
  /// Sessions ended for idleness, age or the `max_sessions` cap.
  std::uint64_t expirations = 0;
  /// Sessions created.
  std::uint64_t activations = 0;
  /// Calls that ran no turn because their request id was seen before: they got the
  /// committed outcome, or followed the call still running (not counted above).
  std::uint64_t calls_replayed = 0;
};

/// What `Runtime::describe` tells about one live session.
struct SessionInfo {
  SessionKey key;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point last_activity;
  /// Committed turns.
  std::uint64_t turns = 0;
  std::size_t queue_depth = 0;
  bool running = false;
  std::size_t history_size = 0;
  /// Mean handler time over all turns that ran (committed or not).
  std::chrono::microseconds mean_turn_time{0};
};

} // namespace agentrt
