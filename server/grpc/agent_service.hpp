#pragma once

// AgentService: the generated callback service, each rpc handed to its reactor.

#include "grpc/grpc_context.hpp"

#include "agent_platform.grpc.pb.h"

namespace agentrt::server::detail {

class AgentService final : public agent_platform::AgentService::CallbackService {
public:
  explicit AgentService(GrpcContextPtr ctx) : ctx_(std::move(ctx)) {}

  grpc::ServerUnaryReactor* ExecuteTask(grpc::CallbackServerContext* sc,
                                        const agent_platform::TaskRequest* request,
                                        agent_platform::TaskResponse* response) override;
  grpc::ServerWriteReactor<agent_platform::TaskChunk>*
  ExecuteTaskStream(grpc::CallbackServerContext* sc,
                    const agent_platform::TaskRequest* request) override;
  grpc::ServerUnaryReactor* ExecuteTool(grpc::CallbackServerContext* sc,
                                        const agent_platform::ToolRequest* request,
                                        agent_platform::ToolResponse* response) override;

private:
  /// Counts the rpc as running (its reactor's OnDone uncounts it), also if the reactor
  /// cannot be made (gRPC then answers UNKNOWN).
  template <class Make>
  auto counted(Make make) {
    ctx_->enter();
    try {
      return make();
    } catch (...) {
      ctx_->leave();
      throw;
    }
  }

  GrpcContextPtr ctx_;
};

} // namespace agentrt::server::detail
