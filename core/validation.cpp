#include "core/validation.hpp"

namespace agentrt::detail {

bool valid_name(std::string_view name, std::size_t max_length) noexcept {
  if (name.empty() || name.size() > max_length)
    return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

} // namespace agentrt::detail
