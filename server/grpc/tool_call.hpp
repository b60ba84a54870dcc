#pragma once

// ToolCall: one ExecuteTool rpc. It runs the tool through Runtime::run_tool (on the
// runtime's blocking pool) and answers from the thread that ends the run; a client cancel
// or an expired deadline stops the tool.

#include "grpc/grpc_context.hpp"
#include "grpc/rpc_log.hpp"
#include "grpc/status.hpp"

#include "agent_platform.pb.h"

#include <agentrt/tool.hpp>

#include <grpcpp/grpcpp.h>

#include <stop_token>

namespace agentrt::server::detail {

class ToolRpc final : public grpc::ServerUnaryReactor {
public:
  ToolRpc(GrpcContextPtr ctx, grpc::CallbackServerContext* sc,
          const agent_platform::ToolRequest* request, agent_platform::ToolResponse* response);

  void OnCancel() override;
  void OnDone() override;

private:
  void answer(ToolReply reply);
  void refuse(const Refusal& r);

  GrpcContextPtr ctx_;
  grpc::CallbackServerContext* sc_;
  agent_platform::ToolResponse* response_;
  std::string session_;
  std::stop_source stop_;
  RpcLog log_{"ExecuteTool"};
  int status_ = 0;
};

} // namespace agentrt::server::detail
