#include "api/errors.hpp"
#include "api/json_views.hpp"
#include "api/routes.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"
#include "server_context.hpp"

#include <agentrt/runtime.hpp>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>


namespace agentrt::server::detail {

namespace http = boost::beast::http;

namespace {

SessionKey key_of(const Exchange& ex) {
  return {ex.params()[0], ex.params()[1]};
}

Response json_ok(std::string body) {
  return Response{200, "application/json", std::move(body), {}};
}

/// These routes wait on a session: they run on the admin threads, never on an I/O thread.
template <class Fn>
void on_admin(ServerContext& ctx, const ExchangePtr& ex, Fn fn) {
  ex->session(ex->params()[1]);
  boost::asio::post(ctx.admin, [&ctx, ex, fn = std::move(fn)] {
    try {
      ex->respond(fn(ctx, key_of(*ex)));
    } catch (const std::exception& e) { // a Runtime API does not throw; a bad_alloc might
      ctx.log->error("[{}] {}: {}", ex->session(), ex->route(), e.what());
      ex->respond(error_response(500, "internal_error", "the server failed to answer; see its log"));
    }
  });
}

Response describe(ServerContext& ctx, const SessionKey& key) {
  auto info = ctx.runtime.describe(key);
  return info ? json_ok(session_json(*info)) : error_of(ctx, info.error(), key.session_id);
}

Response close(ServerContext& ctx, const SessionKey& key) {
  auto closed = ctx.runtime.close(key);
  if (!closed)
    return error_of(ctx, closed.error(), key.session_id);
  if (!*closed)
    return error_response(404, "not_found", "no live session " + key.agent + "/" + key.session_id);
  return Response{204, "", "", {}};
}

Response state(ServerContext& ctx, const SessionKey& key) {
  auto s = ctx.runtime.state(key);
  return s ? json_ok(state_json(key, *s)) : error_of(ctx, s.error(), key.session_id);
}

void history(ServerContext& ctx, const ExchangePtr& ex) {
  std::uint64_t from = 0, limit = 100;
  auto f = ex->target().get("from"), l = ex->target().get("limit");
  if ((f && !parse_u64(*f, from)) || (l && !parse_u64(*l, limit)))
    return ex->respond(error_response(400, "invalid_query",
                                      "'from' and 'limit' must be non-negative integers"));
  on_admin(ctx, ex, [from, limit](ServerContext& ctx, const SessionKey& key) {
    auto page = ctx.runtime.history(key, from, static_cast<std::size_t>(limit));
    return page ? json_ok(history_json(key, *page)) : error_of(ctx, page.error(), key.session_id);
  });
}

} // namespace

void add_session_routes(ServerContext& ctx) {
  auto& r = ctx.router;
  r.add(http::verb::get, "/v1/agents/{agent}/sessions/{session}", {},
        [&ctx](const ExchangePtr& ex) { on_admin(ctx, ex, describe); });
  r.add(http::verb::delete_, "/v1/agents/{agent}/sessions/{session}", {},
        [&ctx](const ExchangePtr& ex) { on_admin(ctx, ex, close); });
  r.add(http::verb::get, "/v1/agents/{agent}/sessions/{session}/history", {},
        [&ctx](const ExchangePtr& ex) { history(ctx, ex); });
  r.add(http::verb::get, "/v1/agents/{agent}/sessions/{session}/state", {},
        [&ctx](const ExchangePtr& ex) { on_admin(ctx, ex, state); });
}

} // namespace agentrt::server::detail
