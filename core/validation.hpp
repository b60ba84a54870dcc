#pragma once

// Checks on names and ids that come from hosts.

#include <chrono>
#include <cstddef>
#include <string_view>

namespace agentrt::detail {

inline constexpr std::size_t max_session_id_length = 128;
inline constexpr std::size_t max_agent_name_length = 64;
inline constexpr std::size_t max_owner_length = 256;

/// The longest duration the runtime works with: a century, which is "never" for a session.
/// Every configured or requested duration is saturated to it before the runtime converts
/// it to nanoseconds or adds it to a clock: milliseconds::max() as nanoseconds, or added to
/// now, overflows (and once erased sessions at their first idle moment).
inline constexpr std::chrono::milliseconds forever = std::chrono::hours(24 * 365 * 100);

/// `d`, at most `forever`.
constexpr std::chrono::milliseconds saturated(std::chrono::milliseconds d) noexcept {
  return d > forever ? forever : d;
}

/// 1 to `max_length` characters, each of [A-Za-z0-9._:-].
bool valid_name(std::string_view name, std::size_t max_length) noexcept;

inline bool valid_session_id(std::string_view id) noexcept {
  return valid_name(id, max_session_id_length);
}

inline bool valid_agent_name(std::string_view name) noexcept {
  return valid_name(name, max_agent_name_length);
}

} // namespace agentrt::detail
