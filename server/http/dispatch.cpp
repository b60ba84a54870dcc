#include "http/dispatch.hpp"

#include "http/access.hpp"
#include "http/error_response.hpp"
#include "server_context.hpp"

#include <boost/beast/core/string.hpp>

namespace agentrt::server::detail {

namespace http = boost::beast::http;

namespace {

boost::beast::string_view bsv(std::string_view s) noexcept {
  return {s.data(), s.size()};
}

/// Headers a page may send cross-origin.
constexpr const char* allowed_headers =
  "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Session-Id";

Response preflight(const Router::Match& m) {
  Response r;
  r.status = 204;
  r.headers = {{"Access-Control-Allow-Methods", m.allow + ", OPTIONS"},
               {"Access-Control-Allow-Headers", allowed_headers},
               {"Access-Control-Max-Age", "600"}};
  return r;
}

bool is_json(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto media = content_type.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  return boost::beast::iequals(bsv(media), "application/json");
}

} // namespace

void dispatch(ServerContext& ctx, const ExchangePtr& ex) {
  if (ctx.config.token.empty())
    if (auto why = check_host(*ex, ctx.config.allowed_hosts); !why.empty())
      return ex->respond(error_response(403, "host_not_allowed", why));
  std::string cors;
  if (auto why = check_origin(*ex, ctx.config.allowed_origins, cors); !why.empty())
    return ex->respond(error_response(403, "origin_not_allowed", why));
  ex->cors_origin(cors);

  auto method = ex->request().method();
  bool is_preflight = method == http::verb::options && !ex->header("Origin").empty()
                      && !ex->header("Access-Control-Request-Method").empty();
  auto m = ctx.router.find(is_preflight ? http::string_to_verb(
                                            bsv(ex->header("Access-Control-Request-Method")))
                                        : method,
                           ex->target().segments);
  if (m.allow.empty())
    return ex->respond(error_response(404, "not_found", "no route for " + ex->target().path));
  if (is_preflight)
    return ex->respond(m.route ? preflight(m)
                               : error_response(405, "method_not_allowed",
                                                "the route does not take that method"));
  if (m.route == nullptr) {
    auto r = error_response(405, "method_not_allowed",
                            std::string{ex->request().method_string().data(), ex->request().method_string().size()} + " is not allowed on "
                              + ex->target().path + "; allowed: " + m.allow);
    r.headers.emplace_back("Allow", m.allow);
    return ex->respond(std::move(r));
  }
  auto& route = *m.route;
  if (auto why = check_fetch_site(*ex, !cors.empty(), route.pattern == "/"); !why.empty())
    return ex->respond(error_response(403, "origin_not_allowed", why));
  ex->route(route.pattern);
  ex->params(std::move(m.params));

  if (route.needs.token && !ctx.config.token.empty()
      && !has_token(*ex, ctx.config.token, route.needs.query_token)) {
    auto r = error_response(401, "unauthorized", "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return ex->respond(std::move(r));
  }
  if (route.needs.starts_call && ctx.draining.load())
    return ex->respond(error_response(503, "shutting_down",
                                      "the server is draining: call another instance"));
  if (route.needs.json_body && !is_json(ex->header("Content-Type")))
    return ex->respond(error_response(415, "unsupported_media_type",
                                      "the body must be sent as Content-Type: application/json"));
  route.handler(ex);
}

} // namespace agentrt::server::detail
