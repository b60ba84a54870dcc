#include "grpc/tool_call.hpp"

#include "grpc/task_fields.hpp"

#include <agentrt/errors.hpp>
#include <agentrt/runtime.hpp>

#include <nlohmann/json.hpp>

namespace agentrt::server::detail {

ToolRpc::ToolRpc(GrpcContextPtr ctx, grpc::CallbackServerContext* sc,
                 const agent_platform::ToolRequest* request,
                 agent_platform::ToolResponse* response)
  : ctx_(std::move(ctx)), sc_(sc), response_(response),
    session_(named_session(*sc, request->session_id())) {
  if (ctx_->draining.load(std::memory_order_acquire)) {
    refuse(refusal_of(*ctx_, make_error_code(errc::shutting_down),
                      "the server is draining; retry on another", session_, 0));
    return;
  }
  if (request->tool_id().empty()) {
    refuse(Refusal{grpc::StatusCode::INVALID_ARGUMENT, "invalid_argument",
                   "tool_id is required: the tool to run"});
    return;
  }
  if (auto conflict = session_conflict(*sc, request->session_id())) {
    refuse(*conflict);
    return;
  }
  nlohmann::json args = nlohmann::json::object();
  for (const auto& [k, v] : request->parameters())
    args[k] = v;
  agentrt::ToolCall call;
  call.tool = request->tool_id();
  call.operation = request->operation();
  // Invalid UTF-8 in a string field cannot reach here: protobuf refuses to parse it.
  call.arguments = args.dump();
  call.session_id = session_;
  call.agent = request->agent_id();
  call.timeout = timeout_of(*sc);
  call.stop = stop_.get_token();
  response_->set_tool_id(request->tool_id());
  // `answer` runs once, maybe right here; Finish is the last thing it does with this.
  ctx_->runtime.run_tool(std::move(call), [this](ToolReply reply) { answer(std::move(reply)); });
}

void ToolRpc::answer(ToolReply reply) {
  session_ = reply.session_id;
  if (reply.error && !task_level(reply.error)) {
    refuse(refusal_of(*ctx_, reply.error, reply.message, session_, 0));
    return;
  }
  response_->set_session_id(reply.session_id);
  response_->set_success(reply.ok());
  response_->set_result(std::move(reply.result));
  if (reply.error) {
    auto r = refusal_of(*ctx_, reply.error, reply.message, session_, 0);
    response_->set_error(std::move(r.message));
    response_->set_error_code(std::move(r.code_name));
  }
  add_session_header(*sc_, session_);
  Finish(grpc::Status::OK);
}

void ToolRpc::refuse(const Refusal& r) {
  status_ = static_cast<int>(r.code);
  add_session_header(*sc_, session_);
  Finish(finish_status(*sc_, r));
}

void ToolRpc::OnCancel() {
  stop_.request_stop();
}

void ToolRpc::OnDone() {
  log_.done(*ctx_, status_, session_);
  auto ctx = std::move(ctx_);
  delete this;
  ctx->leave();
}

} // namespace agentrt::server::detail
