#pragma once

// The HTTP error contract: one switch from agentrt's error conditions to HTTP statuses, and
// the server's config applied to shared/error_text.

#include "shared/error_text.hpp"
#include "http/exchange.hpp"

#include <agentrt/result.hpp>

#include <cstdint>
#include <string>
#include <system_error>

namespace agentrt::server::detail {

struct ServerContext;

/// The HTTP status for `e` (200 for no error).
unsigned status_for(const std::error_code& e) noexcept;

/// client_message (shared/error_text.hpp) with the server's config and log.
std::string client_message(const ServerContext& ctx, const std::error_code& e,
                           const std::string& message, std::string_view session,
                           std::uint64_t call_id);

/// Tells a client where and when to retry: `Retry-After: 1` for what is unavailable now (a
/// store down, a lease lost, a drain) or served elsewhere, and `X-Agentrt-Owner` with the
/// owner's address for session_elsewhere. Nothing for other errors.
void add_retry_headers(Headers& headers, const std::error_code& e, std::string_view message);

/// An Error of the Runtime's API as a response (its text filtered as client_message does).
Response error_of(const ServerContext& ctx, const Error& error, std::string_view session = {});

} // namespace agentrt::server::detail
