#include "api/json_views.hpp"
#include "api/routes.hpp"
#include "page/chat_page.hpp"
#include "server_context.hpp"

#include <agentrt/runtime.hpp>

namespace agentrt::server::detail {

namespace http = boost::beast::http;

void add_ops_routes(ServerContext& ctx) {
  auto& r = ctx.router;
  RouteNeeds open{.token = false};
  r.add(http::verb::get, "/health", open, [](const ExchangePtr& ex) {
    ex->respond(Response{200, "application/json", R"({"status":"ok"})", {}});
  });
  r.add(http::verb::get, "/ready", open, [&ctx](const ExchangePtr& ex) {
    bool draining = ctx.draining.load();
    ex->respond(Response{draining ? 503u : 200u, "application/json",
                         draining ? R"({"status":"draining"})" : R"({"status":"ready"})",
                         {}});
  });
  r.add(http::verb::get, "/metrics", {}, [&ctx](const ExchangePtr& ex) {
    ex->respond(Response{200, "text/plain; version=0.0.4",
                         ctx.metrics.render(ctx.runtime.stats(), ctx.draining.load()), {}});
  });
  r.add(http::verb::get, "/v1/stats", {}, [&ctx](const ExchangePtr& ex) {
    ex->respond(Response{200, "application/json", stats_json(ctx.runtime.stats()), {}});
  });
  r.add(http::verb::get, "/v1/agents", {}, [&ctx](const ExchangePtr& ex) {
    ex->respond(Response{200, "application/json", agents_json(ctx.runtime.agent_types()), {}});
  });
  if (ctx.config.chat_page)
    r.add(http::verb::get, "/", open, [](const ExchangePtr& ex) {
      ex->respond(Response{200, "text/html; charset=utf-8", std::string{chat_page()},
                           {{"Cache-Control", "no-cache"},
                            {"Content-Security-Policy",
                             "default-src 'self'; script-src 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; img-src 'self' data:"},
                            {"X-Content-Type-Options", "nosniff"}}});
    });
}

} // namespace agentrt::server::detail
