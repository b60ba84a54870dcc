#pragma once

// ServerConfig: how an HttpServer listens, whom it lets in, and how it streams.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::server {

struct ServerConfig {
  /// Loopback by default: exposing a server is a decision, not an accident.
  std::string bind_address = "127.0.0.1";
  /// 0 picks a free port (HttpServer::port() tells which).
  std::uint16_t port = 8080;
  /// I/O threads serving every connection and stream. Each stream costs a strand and a
  /// buffer, never a thread; two kept up with 10,000 streams on 2 cores (docs/BENCHMARKS.md).
  std::size_t io_threads = 2;
  /// Threads for the routes that wait on a session (describe, history, state, close), so
  /// a slow store never stalls an I/O thread.
  std::size_t admin_threads = 2;
  /// Origins (scheme://host[:port]) whose pages may call the API cross-origin. Empty: only
  /// same-origin pages and clients that send no Origin (curl, servers). A request from any
  /// other origin is refused with 403 before it does anything.
  std::vector<std::string> allowed_origins;
  /// Host names (the Host header, without the port) this server answers to when no token
  /// is set, besides IP literals and `localhost`: a page on another name that resolves to
  /// this address (DNS rebinding) is refused. "*" allows any. With a token, any host.
  std::vector<std::string> allowed_hosts;
  /// When set, every route but /health, /ready and the page needs `Authorization: Bearer
  /// <token>` (or `?access_token=` on the GET stream routes, which EventSource cannot give
  /// headers). Compared in constant time.
  std::string token;
  /// The largest request body; a JSON body is the input plus a little around it. Larger
  /// bodies get 413 before they are read.
  std::size_t body_limit = (1u << 20) + 64 * 1024;
  /// The largest request header block (431 past it).
  std::size_t header_limit = 16 * 1024;
  /// A connection with no request in progress is closed after this long.
  std::chrono::milliseconds idle_connection_timeout{60'000};
  /// A stream that wrote nothing for this long writes a comment line, so proxies keep it
  /// open and a client that left is noticed.
  std::chrono::milliseconds keepalive{15'000};
  /// The `retry:` an SSE stream announces: how soon EventSource reconnects.
  std::chrono::milliseconds sse_retry{2'000};
  /// A stream whose client disconnected keeps its call running this long, so the client can
  /// resume it (Last-Event-ID); then, with nobody attached, the call is cancelled. Zero
  /// cancels at once.
  std::chrono::milliseconds resume_grace{10'000};
  /// Bytes a slow client may leave unread on one stream before it is disconnected.
  std::size_t max_stream_backlog = 4u << 20;
  /// Pass an agent's exception text (agent_failed, tool_failed, internal_error,
  /// store_failed) to the client. Off: a generic message with the call id; the text is
  /// logged.
  bool expose_errors = false;
  /// Serve the chat page at `/`.
  bool chat_page = true;
  /// One line per request (method, path without query, status, bytes, time, session).
  bool access_log = true;
  /// Where the server logs; null: nowhere. Build it with make_json_formatter() for JSON.
  std::shared_ptr<spdlog::logger> logger;
};

} // namespace agentrt::server
