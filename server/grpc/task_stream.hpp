#pragma once

// TaskStream: one ExecuteTaskStream rpc. The call's events are pushed by the runtime into
// the stream's queue (Request::on_event) and written one at a time; the terminal event is
// the final chunk, after which the rpc finishes with the outcome's status. A client that
// cancels, leaves, or lets its deadline pass cancels the call.
//
// The queue lives in a Pipe shared with the runtime's callback, so a callback after the
// rpc ended finds the pipe closed and drops its event.

#include "grpc/grpc_context.hpp"
#include "grpc/rpc_log.hpp"
#include "grpc/status.hpp"

#include "agent_platform.pb.h"

#include <agentrt/call.hpp>

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

namespace agentrt::server::detail {

class TaskStream final : public grpc::ServerWriteReactor<agent_platform::TaskChunk> {
public:
  TaskStream(GrpcContextPtr ctx, grpc::CallbackServerContext* sc,
             const agent_platform::TaskRequest* task);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

private:
  struct Pipe {
    GrpcContextPtr ctx;  // fixed before the call starts: the callback reads them freely
    std::string task_id;
    std::size_t limit = 0; // max_stream_backlog
    std::mutex mu;
    std::condition_variable unpinned;
    std::deque<agent_platform::TaskChunk> queue; // guarded by mu
    bool open = false;     // guarded by mu: writes may start (the header is set)
    bool writing = false;  // guarded by mu: a StartWrite awaits its OnWriteDone
    bool ended = false;    // guarded by mu: Finish was called, or is about to be
    bool streamed = false; // guarded by mu: a chunk event carried a piece of output
    bool gone = false;     // guarded by mu: the reactor was deleted (OnDone)
    bool overflowed = false; // guarded by mu: the client left too much unread
    std::size_t backlog = 0; // guarded by mu: bytes queued
    int pinned = 0;        // guarded by mu: callbacks using the reactor outside the lock
    Refusal outcome{grpc::StatusCode::OK, {}, {}}; // guarded by mu: the final chunk's status
  };

  /// The runtime's callback: queues the event's chunk, starts a write if none is running.
  /// Touches the reactor only while the pipe says it exists.
  static void on_event(const std::shared_ptr<Pipe>& pipe, TaskStream* self, const Event& event);
  /// Under the pipe's lock: takes the next chunk into current_ (true), or marks the pipe
  /// idle (false).
  bool take_next();
  /// Starts writing current_ (the one write in flight).
  void start_write();
  /// Ends the rpc (no write may be in flight; called once, by whoever set `ended`).
  void end(const Refusal& outcome);

  GrpcContextPtr ctx_;
  grpc::CallbackServerContext* sc_;
  std::shared_ptr<Pipe> pipe_;
  agent_platform::TaskChunk current_; // the chunk being written; only the writer touches it
  bool current_final_ = false;
  std::string session_;
  Call call_;
  RpcLog log_{"ExecuteTaskStream"};
  int status_ = 0;
};

} // namespace agentrt::server::detail
