#include "grpc/status.hpp"

#include "shared/error_text.hpp"

#include <agentrt/errors.hpp>
#include <agentrt/session_store.hpp>

namespace agentrt::server::detail {

bool task_level(const std::error_code& e) noexcept {
  if (!e)
    return false;
  return e.category() != error_category() || condition_of(e) == condition::failed;
}

grpc::StatusCode status_code_for(const std::error_code& e) noexcept {
  using grpc::StatusCode;
  if (!e || task_level(e))
    return StatusCode::OK;
  switch (condition_of(e)) {
    case condition::invalid_request:
    case condition::too_large: return StatusCode::INVALID_ARGUMENT;
    case condition::not_found: return StatusCode::NOT_FOUND;
    case condition::busy:
    case condition::gone: return StatusCode::ABORTED;
    case condition::overloaded: return StatusCode::RESOURCE_EXHAUSTED;
    case condition::cancelled: return StatusCode::CANCELLED;
    case condition::timeout: return StatusCode::DEADLINE_EXCEEDED;
    case condition::unavailable:
    case condition::elsewhere: return StatusCode::UNAVAILABLE;
    case condition::misconfigured: return StatusCode::FAILED_PRECONDITION;
    case condition::failed: return StatusCode::OK;
    case condition::internal: return StatusCode::INTERNAL;
  }
  return StatusCode::INTERNAL;
}

Refusal refusal_of(const GrpcContext& ctx, const std::error_code& e, const std::string& message,
                   std::string_view session, std::uint64_t call_id) {
  return Refusal{status_code_for(e), code_name(e),
                 client_message(ctx.config.expose_errors, *ctx.log, e, message, session, call_id)};
}

grpc::Status finish_status(grpc::CallbackServerContext& sc, const Refusal& r) {
  if (r.code == grpc::StatusCode::OK)
    return grpc::Status::OK;
  sc.AddTrailingMetadata("agentrt-error-code", r.code_name);
  if (r.code_name == "session_elsewhere") // where the session is served now
    if (auto owner = elsewhere_address(r.message); !owner.empty())
      sc.AddTrailingMetadata("agentrt-owner", owner);
  return grpc::Status{r.code, r.message};
}

} // namespace agentrt::server::detail
