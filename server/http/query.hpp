#pragma once

// Request targets: the path split into decoded segments, the query into decoded pairs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentrt::server::detail {

struct Target {
  std::string path;                  ///< as sent, without the query
  std::vector<std::string> segments; ///< decoded, empty ones dropped
  std::vector<std::pair<std::string, std::string>> query; ///< decoded, in order

  /// The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
};

/// Percent-decodes `in` ('+' is a space in a query). Nullopt for a bad escape, a NUL or
/// bytes that are not UTF-8.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// Cuts the text before the first `sep` off `rest` and returns it (all of `rest`, emptying
/// it, when there is no `sep`).
std::string_view take_part(std::string_view& rest, char sep) noexcept;

/// A whole decimal number, nothing around it; false for anything else (sign, space, overflow).
bool parse_u64(std::string_view s, std::uint64_t& out) noexcept;

/// True if `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s) noexcept;

/// Splits and decodes a request target; nullopt with `why` set when it is malformed.
std::optional<Target> parse_target(std::string_view target, std::string& why);

} // namespace agentrt::server::detail
