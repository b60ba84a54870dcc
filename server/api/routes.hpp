#pragma once

// The API's routes, by concern. Each adds its routes to ctx.router.
//   calls:    POST invoke, POST/GET stream, GET events (re-attach), POST cancel
//   sessions: GET describe, DELETE close, GET history, GET state
//   ops:      GET /, /health, /ready, /metrics, /v1/stats, /v1/agents

namespace agentrt::server::detail {

struct ServerContext;

void add_call_routes(ServerContext& ctx);
void add_session_routes(ServerContext& ctx);
void add_ops_routes(ServerContext& ctx);

} // namespace agentrt::server::detail
