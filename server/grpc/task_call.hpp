#pragma once

// TaskCall: one ExecuteTask rpc. It starts the call and answers when the call's outcome
// arrives (on the runtime thread that completes it); a client cancel or an expired
// deadline cancels the call. Deletes itself when gRPC is done with it.

#include "grpc/grpc_context.hpp"
#include "grpc/rpc_log.hpp"
#include "grpc/status.hpp"

#include "agent_platform.pb.h"

#include <agentrt/call.hpp>

#include <grpcpp/grpcpp.h>

namespace agentrt::server::detail {

class TaskCall final : public grpc::ServerUnaryReactor {
public:
  TaskCall(GrpcContextPtr ctx, grpc::CallbackServerContext* sc,
           const agent_platform::TaskRequest* task, agent_platform::TaskResponse* response);

  void OnCancel() override;
  void OnDone() override;

private:
  void answer(const Reply& reply);
  void refuse(const Refusal& r);
  /// Answers with the x-session-id header (once the session is known) and `status`.
  void finish(const grpc::Status& status);

  GrpcContextPtr ctx_;
  grpc::CallbackServerContext* sc_;
  agent_platform::TaskResponse* response_;
  std::string task_id_;
  std::string session_;
  Call call_;
  RpcLog log_{"ExecuteTask"};
  int status_ = 0;
};

} // namespace agentrt::server::detail
