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
  GrpcContextPtr ctx_;
};

} // namespace agentrt::server::detail
