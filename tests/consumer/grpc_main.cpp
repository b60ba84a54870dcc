// Built against an installed agentrt::grpc: serves a Runtime's AgentService and calls it
// through the stubs installed with it (agent_platform.grpc.pb.h).
#include <agentrt/agentrt.hpp>
#include <agentrt/server/grpc_server.hpp>

#include "agent_platform.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>

int main() {
  agentrt::Runtime rt;
  rt.register_handler("echo", [](agentrt::Turn& t) { return t.input(); });
  agentrt::server::GrpcConfig cfg;
  cfg.port = 0;
  agentrt::server::GrpcServer server{rt, cfg};
  server.start();
  auto stub = agent_platform::AgentService::NewStub(grpc::CreateChannel(
    "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  agent_platform::TaskRequest task;
  task.set_agent_id("echo");
  task.set_input("hello");
  task.set_session_id("consumer");
  agent_platform::TaskResponse answer;
  auto st = stub->ExecuteTask(&ctx, task, &answer);
  server.stop();
  if (!st.ok() || answer.output() != "hello" || answer.session_id() != "consumer") {
    std::fprintf(stderr, "unexpected answer: %d %s '%s'\n", static_cast<int>(st.error_code()),
                 st.error_message().c_str(), answer.output().c_str());
    return 1;
  }
  std::puts("grpc consumer: ok");
  return 0;
}
