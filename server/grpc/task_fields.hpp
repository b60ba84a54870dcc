#pragma once

// A task on the wire and in the runtime: the Request a TaskRequest asks for, and the
// TaskResponse and TaskChunks a call's Reply and Events become.

#include "grpc/grpc_context.hpp"
#include "grpc/status.hpp"

#include "agent_platform.pb.h"

#include <agentrt/call.hpp>
#include <agentrt/event.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/request.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace agentrt::server::detail {

/// The session an rpc names: its `session_id` field, else the `x-session-id` request
/// header (empty: neither, a one-shot session).
std::string named_session(const grpc::CallbackServerContext& sc, const std::string& field);

/// Why the rpc's session cannot be told, if it cannot: the header and the field disagree.
std::optional<Refusal> session_conflict(const grpc::CallbackServerContext& sc,
                                        const std::string& field);

/// Adds the `x-session-id` response header, when `session` is a valid session id (a
/// refused, malformed one is not echoed into a header).
void add_session_header(grpc::CallbackServerContext& sc, const std::string& session);

/// The rpc's deadline, as a call's timeout (unset: the client gave none).
std::optional<std::chrono::milliseconds> timeout_of(const grpc::CallbackServerContext& sc);

/// True once the rpc's deadline has passed or is 100 ms away: a cancel then is the client's
/// deadline, and OnCancel leaves the call to its own timeout (set from the deadline, so at
/// most that much later), which ends it as `timeout`, not `cancelled`.
bool deadline_reached(const grpc::CallbackServerContext& sc);

/// Fills `out` with the call `task` asks for, or says why the front end refuses it (the
/// runtime checks the rest: agent, ids, sizes). The rpc's deadline becomes the call's
/// timeout.
std::optional<Refusal> request_of(const GrpcContext& ctx, grpc::CallbackServerContext& sc,
                                  const agent_platform::TaskRequest& task, Request& out);

/// A task started: its Call, or why it was refused (the server drains, the front end or the
/// runtime refused it).
struct Started {
  Call call;
  std::optional<Refusal> refused;
};

/// Starts `task` (session: the one it names, by field or header), with `on_event` as its
/// push callback if set.
Started start_task(const GrpcContext& ctx, grpc::CallbackServerContext& sc,
                   const agent_platform::TaskRequest& task, const std::string& session,
                   std::function<void(const Event&)> on_event = {});

/// The answer to a task that ended with `reply` (success, or a task-level failure).
void fill_response(const GrpcContext& ctx, const Reply& reply, const std::string& task_id,
                   agent_platform::TaskResponse& out);

/// The chunk for `event`; for a terminal one, the outcome fields too (`output` from the
/// event, content filled by the stream, which knows whether pieces were streamed).
void fill_chunk(const GrpcContext& ctx, const Event& event, const std::string& task_id,
                agent_platform::TaskChunk& out);

/// Now, as RFC 3339 UTC with milliseconds ("2026-11-30T21:47:31.042Z").
std::string rfc3339_now();

} // namespace agentrt::server::detail
