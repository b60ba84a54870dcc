#include "http/query.hpp"

#include <charconv>
#include <cstdint>

namespace agentrt::server::detail {

namespace {

int hex(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::string_view take_part(std::string_view& rest, char sep) noexcept {
  auto at = rest.find(sep);
  auto part = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return part;
}

bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

std::optional<std::string_view> Target::get(std::string_view name) const {
  for (auto& [k, v] : query)
    if (k == name)
      return std::string_view{v};
  return std::nullopt;
}

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<std::uint8_t>(s[i]);
    std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (n == 9 || s.size() - i <= n) // not a lead byte, or the sequence is cut off
      return false;
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k <= n; ++k) {
      auto d = static_cast<std::uint8_t>(s[i + k]);
      if ((d & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return false;
    i += n + 1;
  }
  return true;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3)
        return std::nullopt;
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0')
      return std::nullopt;
    out.push_back(c);
  }
  if (!valid_utf8(out))
    return std::nullopt;
  return out;
}

std::optional<Target> parse_target(std::string_view target, std::string& why) {
  if (target.empty() || target.front() != '/') {
    why = "the request target must be a path starting with '/'";
    return std::nullopt;
  }
  Target t;
  auto q = target.find('?');
  t.path = std::string{target.substr(0, q)};
  std::string_view path = t.path;
  while (!path.empty()) {
    auto segment = take_part(path, '/');
    if (segment.empty())
      continue;
    auto decoded = percent_decode(segment, false);
    if (!decoded) {
      why = "the path has a malformed %-escape or is not UTF-8";
      return std::nullopt;
    }
    t.segments.push_back(std::move(*decoded));
  }
  if (q == std::string_view::npos)
    return t;
  auto query = target.substr(q + 1);
  while (!query.empty()) {
    auto pair = take_part(query, '&');
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>{""}
                                              : percent_decode(pair.substr(eq + 1), true);
    if (!key || !value) {
      why = "the query string has a malformed %-escape or is not UTF-8";
      return std::nullopt;
    }
    t.query.emplace_back(std::move(*key), std::move(*value));
  }
  return t;
}

} // namespace agentrt::server::detail
