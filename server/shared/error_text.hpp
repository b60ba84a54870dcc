#pragma once

// How an error reads on the wire, whatever the protocol: its code's name, and what of an
// agent's own error text reaches the client. HTTP (api/errors) and gRPC (grpc/status) both
// speak through these.

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::server::detail {

/// The code's name on the wire, e.g. "session_busy"; "category:value" for a code of
/// another category (a tool's or a store's own).
std::string code_name(const std::error_code& e);

/// The message the client gets for `e`: `message` itself, or, for an error whose text
/// comes from an agent, tool or store and unless `expose` is set, a generic one that names
/// the call (the full text is logged on `log`).
std::string client_message(bool expose, spdlog::logger& log, const std::error_code& e,
                           const std::string& message, std::string_view session,
                           std::uint64_t call_id);

} // namespace agentrt::server::detail
