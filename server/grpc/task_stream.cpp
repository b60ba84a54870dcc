#include "grpc/task_stream.hpp"

#include "grpc/task_fields.hpp"

#include <agentrt/errors.hpp>
#include <agentrt/runtime.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace agentrt::server::detail {

TaskStream::TaskStream(GrpcContextPtr ctx, grpc::CallbackServerContext* sc,
                       const agent_platform::TaskRequest* task)
  : ctx_(std::move(ctx)), sc_(sc), pipe_(std::make_shared<Pipe>()),
    session_(named_session(*sc, task->session_id())) {
  pipe_->ctx = ctx_;
  pipe_->task_id = task->task_id();
  pipe_->limit = ctx_->config.max_stream_backlog;
  auto started = start_task(*ctx_, *sc_, *task, session_,
                            [pipe = pipe_, self = this](const Event& e) { on_event(pipe, self, e); });
  if (started.refused) {
    pipe_->ended = true; // no call, so no callback holds the pipe
    end(*started.refused);
    return;
  }
  call_ = std::move(started.call);
  bool write = false;
  try {
    session_ = call_.session_id(); // minted for a one-shot task
    add_session_header(*sc_, session_);
    std::lock_guard guard{pipe_->mu};
    pipe_->open = true;
    if (!pipe_->ended && !pipe_->writing)
      write = pipe_->writing = take_next();
  } catch (...) { // out of memory: gRPC answers UNKNOWN; the callback must not use `this`
    {
      std::lock_guard guard{pipe_->mu};
      pipe_->ended = pipe_->gone = true;
    }
    call_.cancel();
    throw;
  }
  if (write)
    start_write();
}

void TaskStream::on_event(const std::shared_ptr<Pipe>& pipe, TaskStream* self, const Event& event) {
  // `self` may be gone at any moment but under the lock, while neither `gone` nor `ended`
  // is set; once this sets `writing`, it stays until OnWriteDone, so StartWrite is safe.
  agent_platform::TaskChunk chunk;
  fill_chunk(*pipe->ctx, event, pipe->task_id, chunk);
  Refusal outcome{grpc::StatusCode::OK, {}, {}};
  if (event.terminal() && event.kind != EventKind::completed && !task_level(event.error))
    outcome = Refusal{status_code_for(event.error), chunk.error_code(), chunk.error()};
  auto size = chunk.ByteSizeLong();
  bool write = false;
  bool overflow = false;
  {
    std::lock_guard guard{pipe->mu};
    if (pipe->gone || pipe->ended || pipe->overflowed)
      return;
    if (event.kind == EventKind::chunk)
      pipe->streamed = true;
    if (event.kind == EventKind::completed && !pipe->streamed)
      chunk.set_content(chunk.output()); // nothing was streamed: the output is the content
    if (event.terminal())
      pipe->outcome = std::move(outcome);
    pipe->queue.push_back(std::move(chunk));
    pipe->backlog += size;
    if (pipe->open && !pipe->writing) {
      write = pipe->writing = self->take_next();
    } else if (pipe->writing && pipe->backlog > pipe->limit) {
      // The write in flight is stalled by a client that does not read: cancel the rpc, which
      // fails that write, whose OnWriteDone cancels the call and ends the rpc. Pinned, so
      // OnDone waits until TryCancel has returned.
      overflow = pipe->overflowed = true;
      pipe->queue.clear();
      pipe->backlog = 0;
      ++pipe->pinned;
    }
  }
  if (write) {
    self->start_write();
  } else if (overflow) {
    pipe->ctx->log->warn("[{}/{}] grpc stream: the client left over {} bytes unread; cancelled",
                         event.session_id, event.call_id, pipe->limit);
    self->sc_->TryCancel();
    {
      std::lock_guard guard{pipe->mu};
      --pipe->pinned;
    }
    pipe->unpinned.notify_all();
  }
}

bool TaskStream::take_next() {
  if (pipe_->queue.empty())
    return false;
  current_ = std::move(pipe_->queue.front());
  pipe_->queue.pop_front();
  pipe_->backlog -= std::min(pipe_->backlog, current_.ByteSizeLong());
  current_final_ = current_.is_final();
  return true;
}

void TaskStream::start_write() {
  // No buffer hint, even with more queued: gRPC may hold a hinted write, and complete it,
  // only once a later write flushes it, while this reactor starts the next write only after
  // OnWriteDone. That deadlocked about one stream in twenty here (the client waiting for a
  // chunk the server never sent).
  StartWrite(&current_);
}

void TaskStream::OnWriteDone(bool ok) {
  bool more = false;
  Refusal outcome{grpc::StatusCode::CANCELLED, "cancelled", "the client went away"};
  {
    std::lock_guard guard{pipe_->mu};
    if (ok && !current_final_) {
      more = pipe_->writing = take_next();
      if (!more)
        return; // the next event starts the next write
    } else { // the final chunk is out, or the client is gone: nothing else is written
      pipe_->writing = false;
      pipe_->ended = true;
      pipe_->queue.clear();
      if (ok)
        outcome = pipe_->outcome;
    }
  }
  if (more) {
    start_write();
    return;
  }
  if (!ok && call_.valid())
    call_.cancel();
  end(outcome);
}

void TaskStream::OnCancel() {
  // At the deadline the call's own timeout ends it, as `timeout`.
  if (call_.valid() && !deadline_reached(*sc_))
    call_.cancel();
  {
    std::lock_guard guard{pipe_->mu};
    if (pipe_->ended || pipe_->writing)
      return; // ended already, or the write in flight fails and ends it
    pipe_->ended = true;
    pipe_->queue.clear();
  }
  end(Refusal{grpc::StatusCode::CANCELLED, "cancelled", "the client cancelled the call"});
}

void TaskStream::end(const Refusal& outcome) {
  status_ = static_cast<int>(outcome.code);
  if (!pipe_->open) // else the header went with the first write
    add_session_header(*sc_, session_);
  Finish(finish_status(*sc_, outcome));
}

void TaskStream::OnDone() {
  {
    std::unique_lock lock{pipe_->mu};
    pipe_->unpinned.wait(lock, [this] { return pipe_->pinned == 0; });
    pipe_->gone = true;
  }
  log_.done(*ctx_, status_, session_);
  auto ctx = std::move(ctx_);
  delete this;
  ctx->leave();
}

} // namespace agentrt::server::detail
