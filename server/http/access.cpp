#include "http/access.hpp"

#include <algorithm>
#include <cctype>

namespace agentrt::server::detail {

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is looked at, whatever matched before.
  std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string check_origin(const Exchange& ex, const std::vector<std::string>& allowed_origins,
                         std::string& allowed) {
  allowed.clear();
  auto origin = ex.header("Origin");
  if (origin.empty())
    return {}; // not from a browser page, or a same-origin navigation
  auto host = ex.header("Host");
  if (!host.empty() && (origin == "http://" + std::string{host} || origin == "https://" + std::string{host}))
    return {};
  for (auto& o : allowed_origins)
    if (o == "*" || o == origin) {
      allowed = std::string{origin};
      return {};
    }
  return "origin '" + std::string{origin} + "' is not allowed (see --allowed-origins)";
}

std::string check_fetch_site(const Exchange& ex, bool cors_allowed, bool is_page) {
  auto site = ex.header("Sec-Fetch-Site");
  if (cors_allowed || is_page || site.empty() || site == "same-origin" || site == "none")
    return {};
  return "a " + std::string{site} + " request from a browser without an allowed Origin";
}

namespace {

bool ip_literal(std::string_view host) {
  if (!host.empty() && host.front() == '[')
    return host.back() == ']';
  int dots = 0;
  for (char c : host) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3;
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

} // namespace

std::string check_host(const Exchange& ex, const std::vector<std::string>& allowed_hosts) {
  auto host = ex.header("Host");
  if (host.empty())
    return {}; // not a browser: HTTP/1.0, a raw client
  auto name = host;
  if (auto colon = name.rfind(':'); colon != std::string_view::npos
                                    && name.find(']', colon) == std::string_view::npos)
    name = name.substr(0, colon);
  if (ip_literal(name) || same_name(name, "localhost"))
    return {};
  for (auto& h : allowed_hosts)
    if (h == "*" || same_name(name, h))
      return {};
  return "host '" + std::string{name}
         + "' is not allowed (see --allowed-hosts; or set a token)";
}

bool has_token(const Exchange& ex, std::string_view token, bool query_ok) {
  auto auth = ex.header("Authorization");
  constexpr std::string_view bearer = "Bearer ";
  if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer)
    return constant_time_equal(auth.substr(bearer.size()), token);
  if (query_ok)
    if (auto q = ex.target().get("access_token"))
      return constant_time_equal(*q, token);
  return false;
}

} // namespace agentrt::server::detail
