#include "grpc/task_call.hpp"

#include "grpc/task_fields.hpp"

#include <agentrt/errors.hpp>
#include <agentrt/runtime.hpp>

namespace agentrt::server::detail {

TaskCall::TaskCall(GrpcContextPtr ctx, grpc::CallbackServerContext* sc,
                   const agent_platform::TaskRequest* task,
                   agent_platform::TaskResponse* response)
  : ctx_(std::move(ctx)), sc_(sc), response_(response), task_id_(task->task_id()),
    session_(named_session(*sc, task->session_id())) {
  auto started = start_task(*ctx_, *sc_, *task, session_);
  if (started.refused) {
    refuse(*started.refused);
    return;
  }
  call_ = std::move(started.call);
  session_ = call_.session_id(); // minted for a one-shot task
  // Runs once, maybe right here; Finish is the last thing it does with this reactor.
  call_.on_done([this](const Reply& reply) { answer(reply); });
}

void TaskCall::answer(const Reply& reply) {
  if (reply.ok() || task_level(reply.error)) {
    fill_response(*ctx_, reply, task_id_, *response_);
    finish(grpc::Status::OK);
    return;
  }
  refuse(refusal_of(*ctx_, reply.error, reply.message, reply.session_id, reply.call_id));
}

void TaskCall::refuse(const Refusal& r) {
  status_ = static_cast<int>(r.code);
  finish(finish_status(*sc_, r));
}

void TaskCall::finish(const grpc::Status& status) {
  add_session_header(*sc_, session_);
  Finish(status);
}

void TaskCall::OnCancel() {
  // At the deadline the call's own timeout ends it, as `timeout`.
  if (call_.valid() && !deadline_reached(*sc_))
    call_.cancel();
}

void TaskCall::OnDone() {
  log_.done(*ctx_, status_, session_);
  auto ctx = std::move(ctx_);
  delete this;
  ctx->leave();
}

} // namespace agentrt::server::detail
