#pragma once

// Request targets: the path split into decoded segments, the query into decoded pairs.

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

/// True if `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s) noexcept;

/// Splits and decodes a request target; nullopt with `why` set when it is malformed.
std::optional<Target> parse_target(std::string_view target, std::string& why);

} // namespace agentrt::server::detail
