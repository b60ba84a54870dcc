#include "grpc/agent_service.hpp"

#include "grpc/task_call.hpp"
#include "grpc/task_stream.hpp"
#include "grpc/tool_call.hpp"

namespace agentrt::server::detail {

grpc::ServerUnaryReactor* AgentService::ExecuteTask(grpc::CallbackServerContext* sc,
                                                    const agent_platform::TaskRequest* request,
                                                    agent_platform::TaskResponse* response) {
  return counted([&] { return new TaskCall(ctx_, sc, request, response); });
}

grpc::ServerWriteReactor<agent_platform::TaskChunk>*
AgentService::ExecuteTaskStream(grpc::CallbackServerContext* sc,
                                const agent_platform::TaskRequest* request) {
  return counted([&] { return new TaskStream(ctx_, sc, request); });
}

grpc::ServerUnaryReactor* AgentService::ExecuteTool(grpc::CallbackServerContext* sc,
                                                    const agent_platform::ToolRequest* request,
                                                    agent_platform::ToolResponse* response) {
  return counted([&] { return new ToolRpc(ctx_, sc, request, response); });
}

} // namespace agentrt::server::detail
