#include "grpc/task_fields.hpp"

#include "shared/wire.hpp"

#include <agentrt/errors.hpp>
#include <agentrt/runtime.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace agentrt::server::detail {

namespace {

std::string header_session(const grpc::CallbackServerContext& sc) {
  auto& md = sc.client_metadata();
  auto it = md.find("x-session-id");
  return it == md.end() ? std::string{} : std::string{it->second.data(), it->second.size()};
}

Refusal invalid(std::string message) {
  return Refusal{grpc::StatusCode::INVALID_ARGUMENT, "invalid_argument", std::move(message)};
}

} // namespace

std::string named_session(const grpc::CallbackServerContext& sc, const std::string& field) {
  return field.empty() ? header_session(sc) : field;
}

std::optional<Refusal> session_conflict(const grpc::CallbackServerContext& sc,
                                        const std::string& field) {
  auto header = header_session(sc);
  if (!header.empty() && !field.empty() && header != field)
    return invalid("the x-session-id header and session_id differ");
  return std::nullopt;
}

void add_session_header(grpc::CallbackServerContext& sc, const std::string& session) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '_' || c == ':' || c == '-';
  };
  if (session.empty() || session.size() > 128 || !std::all_of(session.begin(), session.end(), ok))
    return;
  sc.AddInitialMetadata("x-session-id", session);
}

std::optional<std::chrono::milliseconds> timeout_of(const grpc::CallbackServerContext& sc) {
  // gpr_timespec, not deadline(): its system_clock conversion overflows for deadlines
  // centuries away (some clients send ~292 years for "none").
  auto deadline = sc.raw_deadline();
  if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
    return std::nullopt;
  auto left = gpr_time_sub(gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC),
                           gpr_now(GPR_CLOCK_MONOTONIC));
  constexpr std::int64_t year_s = 366LL * 24 * 3600; // the runtime counts longer as a year
  if (left.tv_sec >= year_s)
    return std::chrono::seconds{year_s};
  // Rounded down, so the runtime's timeout fires first and the call ends as `timeout`.
  auto ms = left.tv_sec * 1000 + left.tv_nsec / 1'000'000;
  return std::chrono::milliseconds{std::max<std::int64_t>(ms, 1)};
}

bool deadline_reached(const grpc::CallbackServerContext& sc) {
  // The client's own deadline fires a little before this server's copy of it (which counts
  // from when the request arrived): a cancel that close to it is the deadline.
  constexpr std::int64_t slack_ns = 100'000'000;
  auto deadline = gpr_convert_clock_type(sc.raw_deadline(), GPR_CLOCK_MONOTONIC);
  auto soon = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(slack_ns, GPR_TIMESPAN));
  return gpr_time_cmp(soon, deadline) >= 0;
}

namespace {

} // namespace

std::optional<Refusal> request_of(const GrpcContext& ctx, grpc::CallbackServerContext& sc,
                                  const agent_platform::TaskRequest& task, Request& out) {
  if (task.agent_id().empty())
    return invalid("agent_id is required: the agent type to run the task");
  if (auto conflict = session_conflict(sc, task.session_id()))
    return conflict;
  auto policy = task.on_busy().empty() ? std::optional{BusyPolicy::enqueue}
                                       : busy_policy_named(task.on_busy());
  if (!policy)
    return invalid("on_busy must be enqueue, reject, interrupt or rollback");
  out.agent = task.agent_id();
  out.session_id = named_session(sc, task.session_id());
  out.input = task.input();
  out.on_busy = *policy;
  for (const auto& [k, v] : task.parameters())
    out.params.emplace(k, v);
  if (!task.tool_ids().empty()) {
    if (out.params.count("tool_ids") != 0)
      return invalid("parameters has a key \"tool_ids\" and tool_ids is set: the turn reads "
                     "tool_ids as that param");
    auto known = ctx.runtime.tool_names();
    std::string joined;
    for (const auto& id : task.tool_ids()) {
      if (!std::binary_search(known.begin(), known.end(), id))
        return refusal_of(ctx, make_error_code(errc::unknown_tool),
                          "unknown tool '" + id.substr(0, 80) + "' in tool_ids", out.session_id, 0);
      joined += (joined.empty() ? "" : ",") + id;
    }
    out.params.emplace("tool_ids", std::move(joined));
  }
  // A retry names its first try; a one-shot task has no session to remember it in.
  if (!out.session_id.empty())
    out.request_id = task.task_id();
  out.timeout = timeout_of(sc);
  return std::nullopt;
}

Started start_task(const GrpcContext& ctx, grpc::CallbackServerContext& sc,
                   const agent_platform::TaskRequest& task, const std::string& session,
                   std::function<void(const Event&)> on_event) {
  if (ctx.draining.load(std::memory_order_acquire))
    return {{}, refusal_of(ctx, make_error_code(errc::shutting_down),
                           "the server is draining; retry on another", session, 0)};
  Request request;
  if (auto refused = request_of(ctx, sc, task, request))
    return {{}, std::move(refused)};
  request.on_event = std::move(on_event);
  auto started = ctx.runtime.invoke(std::move(request));
  if (!started)
    return {{}, refusal_of(ctx, started.error().code, started.error().message, session, 0)};
  return {std::move(*started), std::nullopt};
}

void fill_response(const GrpcContext& ctx, const Reply& reply, const std::string& task_id,
                   agent_platform::TaskResponse& out) {
  out.set_task_id(task_id);
  out.set_session_id(reply.session_id);
  out.set_output(reply.output);
  out.set_success(reply.ok());
  out.set_turn(reply.turn);
  if (!reply.ok()) {
    auto r = refusal_of(ctx, reply.error, reply.message, reply.session_id, reply.call_id);
    out.set_error(std::move(r.message));
    out.set_error_code(std::move(r.code_name));
  }
  auto& md = *out.mutable_metadata();
  md["session_id"] = reply.session_id;
  md["agent_id"] = reply.agent;
  md["task_number"] = std::to_string(reply.turn);
  md["processed_at"] = rfc3339_now();
  md["call_id"] = std::to_string(reply.call_id);
  md["replayed"] = reply.replayed ? "true" : "false";
}

void fill_chunk(const GrpcContext& ctx, const Event& event, const std::string& task_id,
                agent_platform::TaskChunk& out) {
  out.set_task_id(task_id);
  out.set_session_id(event.session_id);
  out.set_kind(std::string{to_string(event.kind)});
  out.set_seq(event.seq);
  out.set_agent_id(event.agent);
  out.set_tool_id(event.tool);
  if (event.kind == EventKind::chunk) {
    out.set_content(event.data);
  } else if (!event.terminal()) {
    out.set_detail(event.data);
    return;
  }
  if (!event.terminal())
    return;
  out.set_is_final(true);
  out.set_turn(event.turn);
  out.set_success(event.kind == EventKind::completed);
  if (event.kind == EventKind::completed) {
    out.set_output(event.data);
    return;
  }
  auto r = refusal_of(ctx, event.error, event.data, event.session_id, event.call_id);
  out.set_detail(r.message);
  out.set_error(std::move(r.message));
  out.set_error_code(std::move(r.code_name));
}

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char buf[40];
  auto n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                         utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                         static_cast<int>(ms));
  return std::string{buf, static_cast<std::size_t>(std::max(n, 0))};
}

} // namespace agentrt::server::detail
