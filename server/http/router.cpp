#include "http/router.hpp"

#include "http/query.hpp"

namespace agentrt::server::detail {

namespace http = boost::beast::http;

void Router::add(http::verb method, std::string pattern, RouteNeeds needs, Handler handler) {
  Route r{method, std::move(pattern), {}, needs, std::move(handler)};
  std::string_view rest = r.pattern;
  while (!rest.empty()) {
    auto part = take_part(rest, '/');
    if (!part.empty())
      r.parts.emplace_back(part);
  }
  routes_.push_back(std::move(r));
}

Router::Match Router::find(http::verb method, const std::vector<std::string>& segments) const {
  Match m;
  for (auto& r : routes_) {
    if (r.parts.size() != segments.size())
      continue;
    std::vector<std::string> params;
    bool same = true;
    for (std::size_t i = 0; i < segments.size() && same; ++i) {
      if (r.parts[i].front() == '{')
        params.push_back(segments[i]);
      else
        same = r.parts[i] == segments[i];
    }
    if (!same)
      continue;
    auto name = std::string{http::to_string(r.method)};
    if (m.allow.find(name) == std::string::npos)
      m.allow += (m.allow.empty() ? "" : ", ") + name;
    if (r.method == method && m.route == nullptr) {
      m.route = &r;
      m.params = std::move(params);
    }
  }
  return m;
}

} // namespace agentrt::server::detail
