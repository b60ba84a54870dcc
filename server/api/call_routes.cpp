#include "api/call_request.hpp"
#include "api/errors.hpp"
#include "api/json_views.hpp"
#include "api/routes.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"
#include "server_context.hpp"
#include "streams/call_stream.hpp"

#include <agentrt/runtime.hpp>


namespace agentrt::server::detail {

namespace http = boost::beast::http;

namespace {

void invoke(ServerContext& ctx, const ExchangePtr& ex) {
  auto parsed = request_from_body(*ex, ex->params()[0]);
  if (!parsed.request)
    return ex->respond(std::move(parsed.error));
  ex->request().body() = {}; // parsed: the exchange may wait a long time for its reply
  auto call = ctx.runtime.invoke(std::move(*parsed.request));
  if (!call)
    return ex->respond(error_of(ctx, call.error()));
  ex->session(call->session_id());
  ctx.park(ex);
  std::weak_ptr<Exchange> weak = ex;
  // Counted as attached for good: the waiting client is not a stream that can drop and
  // resume, so no grace timer may cancel its call.
  auto entry = ctx.calls.make(true);
  ctx.calls.add(entry, std::move(*call), [&ctx, weak](const Reply& r) {
    auto ex = weak.lock();
    if (!ex)
      return;
    ctx.unpark(ex.get());
    Response answer{status_for(r.error), "application/json", reply_json(ctx, r),
                    {{"X-Call-Id", std::to_string(r.call_id)}}};
    add_retry_headers(answer.headers, r.error, r.message);
    ex->respond(std::move(answer));
  });
}

/// "CALL:SEQ", as the stream's `id:` lines have it.
bool parse_event_id(std::string_view id, std::uint64_t& call, std::uint64_t& seq) {
  auto colon = id.find(':');
  if (colon == std::string_view::npos)
    return false;
  return parse_u64(id.substr(0, colon), call) && parse_u64(id.substr(colon + 1), seq)
         && call > 0;
}

/// A stream of a call that already runs, from after `after_seq`.
void resume(ServerContext& ctx, const ExchangePtr& ex, SessionKey key, std::uint64_t call_id,
            std::uint64_t after_seq) {
  ex->session(key.session_id);
  auto entry = ctx.calls.find(CallTable::key(key.agent, key.session_id, call_id));
  if (entry)
    ctx.calls.attach(entry);
  auto stream = std::make_shared<CallStream>(ctx, ex, entry, true, call_id, after_seq);
  auto handle = ctx.runtime.attach(key, call_id, after_seq, stream->callback());
  if (!handle)
    return stream->refused(handle.error());
  // What attach refuses comes as a first event in a moment; a call that is merely quiet
  // gets its stream opened after this.
  stream->hold(std::move(*handle), std::chrono::milliseconds{250});
}

void start_stream(ServerContext& ctx, const ExchangePtr& ex, Request request) {
  request.resumable = true; // a dropped client resumes with Last-Event-ID
  auto entry = ctx.calls.make(true);
  auto stream = std::make_shared<CallStream>(ctx, ex, entry, false);
  request.on_event = stream->callback();
  auto call = ctx.runtime.invoke(std::move(request));
  if (!call)
    return stream->refused(call.error());
  ctx.calls.add(entry, std::move(*call));
}

void stream_post(ServerContext& ctx, const ExchangePtr& ex) {
  auto parsed = request_from_body(*ex, ex->params()[0]);
  if (!parsed.request)
    return ex->respond(std::move(parsed.error));
  ex->request().body() = {};
  start_stream(ctx, ex, std::move(*parsed.request));
}

/// EventSource's route: the query starts a call; its reconnect (Last-Event-ID) resumes it.
void stream_get(ServerContext& ctx, const ExchangePtr& ex) {
  auto parsed = request_from_query(*ex, ex->params()[0]);
  if (!parsed.request)
    return ex->respond(std::move(parsed.error));
  auto last = ex->header("Last-Event-ID");
  if (last.empty()) {
    // Only a new call is refused while draining: a client resuming one that still runs
    // gets its end.
    if (ctx.draining.load())
      return ex->respond(error_response(503, "shutting_down",
                                        "the server is draining: call another instance"));
    return start_stream(ctx, ex, std::move(*parsed.request));
  }
  std::uint64_t call = 0, seq = 0;
  if (!parse_event_id(last, call, seq))
    return ex->respond(error_response(400, "invalid_request",
                                      "Last-Event-ID must be CALL:SEQ as sent in `id:` lines"));
  if (parsed.request->session_id.empty())
    return ex->respond(error_response(400, "invalid_request",
                                      "a one-shot call (no session_id) cannot be resumed"));
  resume(ctx, ex, {parsed.request->agent, parsed.request->session_id}, call, seq);
}

/// GET .../calls/{call}/events?after=SEQ (Last-Event-ID, when sent, wins).
void events(ServerContext& ctx, const ExchangePtr& ex) {
  auto& p = ex->params();
  std::uint64_t call = 0, seq = 0;
  if (!parse_u64(p[2], call) || call == 0)
    return ex->respond(error_response(400, "invalid_request", "the call id must be a number"));
  if (auto last = ex->header("Last-Event-ID"); !last.empty()) {
    std::uint64_t last_call = 0;
    if (!parse_event_id(last, last_call, seq) || last_call != call)
      return ex->respond(error_response(400, "invalid_request",
                                        "Last-Event-ID must be CALL:SEQ of this call"));
  } else if (auto after = ex->target().get("after"); after && !parse_u64(*after, seq)) {
    return ex->respond(error_response(400, "invalid_query", "'after' must be a number"));
  }
  resume(ctx, ex, {p[0], p[1]}, call, seq);
}

void cancel(ServerContext& ctx, const ExchangePtr& ex) {
  auto& p = ex->params();
  ex->session(p[1]);
  std::uint64_t call = 0;
  auto entry = parse_u64(p[2], call) ? ctx.calls.find(CallTable::key(p[0], p[1], call)) : nullptr;
  bool known = false;
  if (entry) {
    std::lock_guard guard{entry->mu};
    known = entry->call.valid();
  }
  if (!known)
    return ex->respond(error_response(404, "not_found",
                                      "no running call " + p[2] + " of " + p[0] + "/" + p[1]
                                        + " made through this server"));
  bool cancelled = entry->call.cancel();
  ex->respond(Response{202, "application/json",
                       std::string{"{\"cancelled\":"} + (cancelled ? "true" : "false") + "}",
                       {}});
}

} // namespace

void add_call_routes(ServerContext& ctx) {
  auto& r = ctx.router;
  auto bind = [&ctx](void (*fn)(ServerContext&, const ExchangePtr&)) {
    return [&ctx, fn](const ExchangePtr& ex) { fn(ctx, ex); };
  };
  RouteNeeds json_call{.json_body = true, .starts_call = true};
  r.add(http::verb::post, "/v1/agents/{agent}/invoke", json_call, bind(invoke));
  r.add(http::verb::post, "/v1/agents/{agent}/stream", json_call, bind(stream_post));
  r.add(http::verb::get, "/v1/agents/{agent}/stream", {.query_token = true}, // drain: see there
        bind(stream_get));
  r.add(http::verb::get, "/v1/agents/{agent}/sessions/{session}/calls/{call}/events",
        {.query_token = true}, bind(events));
  r.add(http::verb::post, "/v1/agents/{agent}/sessions/{session}/calls/{call}/cancel", {},
        bind(cancel));
}

} // namespace agentrt::server::detail
