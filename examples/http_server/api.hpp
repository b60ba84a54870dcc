#pragma once

// The HTTP API over one agentrt Runtime:
//   POST   /v1/agents/{agent}/invoke         JSON in, JSON reply out
//   POST   /v1/agents/{agent}/stream         JSON in, text/event-stream out
//   GET    /v1/agents/{agent}/sessions/{id}  describe
//   DELETE /v1/agents/{agent}/sessions/{id}  close
//   GET    /v1/stats                         runtime counters
//   GET    /health
// Bad input gets a 4xx with {"error": {"code", "message"}}; a client that disconnects from
// a stream cancels its call.

namespace agentrt {
class Runtime;
} // namespace agentrt

namespace httplib {
class Server;
} // namespace httplib

#include <cstddef>

namespace agentrt_http {

/// A request body is the input plus a little JSON around it.
inline constexpr std::size_t json_overhead = 64 * 1024;

/// The longest `timeout_ms` a request may ask for (1 hour).
inline constexpr unsigned long long max_timeout_ms = 3'600'000;

/// Adds every route to `server`. `runtime` must outlive the server's listening.
void install_routes(httplib::Server& server, agentrt::Runtime& runtime);

} // namespace agentrt_http
