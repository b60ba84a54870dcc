#pragma once

// The access log line every rpc writes when it ends.

#include "grpc/grpc_context.hpp"

#include <chrono>
#include <string_view>

namespace agentrt::server::detail {

/// Marks an rpc's start; `done` logs "grpc METHOD STATUS session=... ms=..." once.
class RpcLog {
public:
  explicit RpcLog(const char* method) : method_(method), start_(std::chrono::steady_clock::now()) {}

  void done(const GrpcContext& ctx, int status, std::string_view session) const;

private:
  const char* method_;
  std::chrono::steady_clock::time_point start_;
};

} // namespace agentrt::server::detail
