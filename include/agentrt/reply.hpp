#pragma once

// Reply: the outcome of one call.

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

namespace agentrt {

/// The outcome of a call. `error` is zero on success; otherwise `message` says why.
struct Reply {
  std::string session_id;
  std::uint64_t call_id = 0;
  std::string agent;
  /// The handler's output. Also set for `interrupted` (what the turn had produced).
  std::string output;
  std::error_code error;
  /// Human-readable detail for `error` (e.g. the agent's exception text).
  std::string message;
  /// The session's turn number this call ran as (1-based); 0 if it never ran.
  std::uint64_t turn = 0;
  /// Time spent waiting in the session's queue, and running the handler.
  std::chrono::microseconds queued_for{0};
  std::chrono::microseconds ran_for{0};
  /// True when this call ran no turn: it carried a request id the session had seen, and
  /// this is the outcome of that earlier call (`turn` is the turn it committed).
  bool replayed = false;

  bool ok() const noexcept { return !error; }
};

} // namespace agentrt
