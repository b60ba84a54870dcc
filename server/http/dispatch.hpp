#pragma once

// dispatch: what every request goes through before its route's handler: the origin check,
// CORS preflight, route lookup (404, 405 with Allow), the token, draining, the body's
// media type.

#include "http/exchange.hpp"

namespace agentrt::server::detail {

struct ServerContext;

void dispatch(ServerContext& ctx, const ExchangePtr& ex);

} // namespace agentrt::server::detail
