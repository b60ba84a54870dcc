#pragma once

// Router: the route table. A route is a method and a path pattern whose `{name}` segments
// match one decoded segment each; what a route needs before its handler runs (a token, a
// JSON body, a server that is not draining) is declared with it.

#include "http/exchange.hpp"

#include <boost/beast/http/verb.hpp>

#include <functional>
#include <string>
#include <vector>

namespace agentrt::server::detail {

struct RouteNeeds {
  bool token = true;        ///< refused with 401 without the token (when one is set)
  bool json_body = false;   ///< refused with 415 unless the body is application/json
  bool starts_call = false; ///< refused with 503 while draining
  bool query_token = false; ///< may carry the token as ?access_token= (EventSource)
};

using Handler = std::function<void(const ExchangePtr&)>;

struct Route {
  boost::beast::http::verb method;
  std::string pattern; ///< e.g. "/v1/agents/{agent}/invoke": also the name in metrics
  std::vector<std::string> parts;
  RouteNeeds needs;
  Handler handler;
};

class Router {
public:
  void add(boost::beast::http::verb method, std::string pattern, RouteNeeds needs,
           Handler handler);

  struct Match {
    const Route* route = nullptr;    ///< null: no route for this method
    std::vector<std::string> params; ///< the `{...}` segments
    std::string allow;               ///< methods the path has ("GET, DELETE"); empty: 404
  };
  Match find(boost::beast::http::verb method, const std::vector<std::string>& segments) const;

private:
  std::vector<Route> routes_;
};

} // namespace agentrt::server::detail
