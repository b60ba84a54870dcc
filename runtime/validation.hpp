#pragma once

// Checks on names and ids that come from hosts.

#include <cstddef>
#include <string_view>

namespace agentrt::detail {

inline constexpr std::size_t max_session_id_length = 128;
inline constexpr std::size_t max_agent_name_length = 64;
inline constexpr std::size_t max_owner_length = 256;

/// 1 to `max_length` characters, each of [A-Za-z0-9._:-].
bool valid_name(std::string_view name, std::size_t max_length) noexcept;

inline bool valid_session_id(std::string_view id) noexcept {
  return valid_name(id, max_session_id_length);
}

inline bool valid_agent_name(std::string_view name) noexcept {
  return valid_name(name, max_agent_name_length);
}

} // namespace agentrt::detail
