#include "api/errors.hpp"

#include "http/error_response.hpp"
#include "server_context.hpp"

#include <agentrt/errors.hpp>
#include <agentrt/session_store.hpp>

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
    case condition::elsewhere: return 421; // Misdirected Request: another node serves it
    case condition::failed: return 502;
    case condition::misconfigured:
    case condition::internal: return 500;
  }
  return 500;
}

std::string client_message(const ServerContext& ctx, const std::error_code& e,
                           const std::string& message, std::string_view session,
                           std::uint64_t call_id) {
  return client_message(ctx.config.expose_errors, *ctx.log, e, message, session, call_id);
}

void add_retry_headers(Headers& headers, const std::error_code& e, std::string_view message) {
  auto group = condition_of(e);
  if (!e || (group != condition::unavailable && group != condition::elsewhere))
    return;
  headers.emplace_back("Retry-After", "1");
  if (group == condition::elsewhere)
    if (auto owner = elsewhere_address(message); !owner.empty())
      headers.emplace_back("X-Agentrt-Owner", std::move(owner));
}

Response error_of(const ServerContext& ctx, const Error& error, std::string_view session) {
  auto r = error_response(status_for(error.code), code_name(error.code),
                          client_message(ctx, error.code, error.message, session, 0));
  add_retry_headers(r.headers, error.code, error.message);
  return r;
}

} // namespace agentrt::server::detail
