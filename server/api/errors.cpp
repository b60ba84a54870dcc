#include "api/errors.hpp"

#include "http/error_response.hpp"
#include "server_context.hpp"

#include <agentrt/errors.hpp>

#include <spdlog/spdlog.h>

namespace agentrt::server::detail {

unsigned status_for(const std::error_code& e) noexcept {
  if (!e)
    return 200;
  switch (condition_of(e)) {
    case condition::invalid_request: return 400;
    case condition::too_large: return 413;
    case condition::not_found: return 404;
    case condition::busy:
    case condition::cancelled: return 409;
    case condition::overloaded: return 429;
    case condition::gone: return 410;
    case condition::timeout: return 504;
    case condition::unavailable: return 503;
    case condition::failed: return 502;
    case condition::misconfigured:
    case condition::internal: return 500;
  }
  return 500;
}

std::string code_name(const std::error_code& e) {
  if (e.category() == error_category())
    return std::string{to_string(static_cast<errc>(e.value()))};
  return std::string{e.category().name()} + ":" + std::to_string(e.value());
}

namespace {

/// Codes whose message is text from the host's code (an agent, a tool, a store), which
/// may hold what a client should not see.
bool foreign_text(const std::error_code& e) noexcept {
  return e == errc::agent_failed || e == errc::tool_failed || e == errc::internal_error
         || e == errc::store_failed || e == errc::abandoned
         || e.category() != error_category();
}

} // namespace

std::string client_message(const ServerContext& ctx, const std::error_code& e,
                           const std::string& message, std::string_view session,
                           std::uint64_t call_id) {
  if (!e || ctx.config.expose_errors || !foreign_text(e))
    return message;
  ctx.log->warn("[{}/{}] {}: {}", session, call_id, code_name(e), message);
  auto which = call_id == 0 ? std::string{}
                            : " (call " + std::to_string(call_id) + ")";
  return e == errc::store_failed
           ? "the session store failed; the server log has the details" + which
           : "the agent failed; the server log has the details" + which;
}

Response error_of(const ServerContext& ctx, const Error& error, std::string_view session) {
  return error_response(status_for(error.code), code_name(error.code),
                        client_message(ctx, error.code, error.message, session, 0));
}

} // namespace agentrt::server::detail
