#pragma once

// The error contract: one switch from agentrt's error conditions to HTTP statuses, the
// code names on the wire, and what of an agent's own error text reaches the client.

#include "http/exchange.hpp"

#include <agentrt/result.hpp>

#include <cstdint>
#include <string>
#include <system_error>

namespace agentrt::server::detail {

struct ServerContext;

/// The HTTP status for `e` (200 for no error).
unsigned status_for(const std::error_code& e) noexcept;

/// The code's name on the wire, e.g. "session_busy".
std::string code_name(const std::error_code& e);

/// The message the client gets for `e`: `message` itself, or, for an error whose text
/// comes from an agent, tool or store and unless the config exposes it, a generic one that
/// names the call (the full text is logged).
std::string client_message(const ServerContext& ctx, const std::error_code& e,
                           const std::string& message, std::string_view session,
                           std::uint64_t call_id);

/// An Error of the Runtime's API as a response (its text filtered as client_message does).
Response error_of(const ServerContext& ctx, const Error& error, std::string_view session = {});

} // namespace agentrt::server::detail
