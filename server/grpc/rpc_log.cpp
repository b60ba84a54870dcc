#include "grpc/rpc_log.hpp"

#include <spdlog/spdlog.h>

namespace agentrt::server::detail {

void RpcLog::done(const GrpcContext& ctx, int status, std::string_view session) const {
  if (!ctx.config.access_log)
    return;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - start_).count();
  ctx.log->info("[{}/-] grpc {} status={} {:.3f} ms", session.empty() ? "-" : session, method_,
                status, static_cast<double>(us) / 1000.0);
}

} // namespace agentrt::server::detail
