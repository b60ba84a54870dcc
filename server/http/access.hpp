#pragma once

// Who may call: the Origin check (CORS) and the bearer token.

#include "http/exchange.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace agentrt::server::detail {

/// Empty when the request may go on; otherwise the reason it is refused. An Origin must be
/// the server's own (same scheme, host and port as the Host header) or an allowed one.
/// Sets `allowed` to the origin to echo in CORS headers (empty for same-origin and no Origin).
std::string check_origin(const Exchange& ex, const std::vector<std::string>& allowed_origins,
                         std::string& allowed);

/// Empty when the request may go on; otherwise the reason it is refused. A browser's
/// cross-site request that carries no allowed Origin (an <img>, a link, a form) may fetch
/// only the page: it could start calls with a user's session otherwise.
std::string check_fetch_site(const Exchange& ex, bool cors_allowed, bool is_page);

/// Empty when the Host header names this server: an IP literal, `localhost`, or one of
/// `allowed_hosts`; otherwise the reason it is refused (DNS rebinding).
std::string check_host(const Exchange& ex, const std::vector<std::string>& allowed_hosts);

/// True if the request carries `token` (Authorization: Bearer, or ?access_token= when
/// `query_ok`). Compares in time independent of where the strings differ.
bool has_token(const Exchange& ex, std::string_view token, bool query_ok);

/// Equal strings, compared in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

} // namespace agentrt::server::detail
