#pragma once

// The gRPC error contract: one switch from agentrt's error conditions to status codes, and
// which failures are the task's own (success = false in an OK answer) rather than the rpc's.

#include "grpc/grpc_context.hpp"

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace agentrt::server::detail {

/// True when `e` is a failure of the task itself: the agent or a tool failed it (condition
/// `failed`), or a tool returned a code of its own category. It is answered with status OK,
/// success = false and the error; every other error is the rpc's status.
bool task_level(const std::error_code& e) noexcept;

/// The status code for `e`: OK for no error and for a task-level one.
grpc::StatusCode status_code_for(const std::error_code& e) noexcept;

/// A refusal by the front end itself, before the runtime sees the rpc.
struct Refusal {
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
  std::string code_name = "invalid_argument";
  std::string message;
};

/// The refusal for an agentrt error `e` (its message filtered by the config's
/// expose_errors, as the HTTP server does).
Refusal refusal_of(const GrpcContext& ctx, const std::error_code& e, const std::string& message,
                   std::string_view session, std::uint64_t call_id);

/// The status for `r`, with its code name in the trailing metadata (`agentrt-error-code`).
grpc::Status finish_status(grpc::CallbackServerContext& sc, const Refusal& r);

} // namespace agentrt::server::detail
