#pragma once

// The runtime's own times as both durable stores keep them: milliseconds since the Unix
// epoch (a SQLite INTEGER, a PostgreSQL bigint).

#include <chrono>
#include <cstdint>

namespace agentrt::detail {

inline std::int64_t to_ms(std::chrono::system_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline std::chrono::system_clock::time_point from_ms(std::int64_t ms) noexcept {
  return std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)};
}

} // namespace agentrt::detail
