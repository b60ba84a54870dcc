#pragma once

// HttpServer: HTTP/JSON and Server-Sent Events over one agentrt Runtime, on Boost.Beast.
//
// A small fixed set of I/O threads serves every connection and stream: a call's events are
// pushed from the runtime to its stream's strand, never polled, and no thread is held per
// connection or stream. The routes, the error contract and the SSE format are in the
// README ("The HTTP server").
//
// Lifetime: the Runtime must outlive the HttpServer. start() once; drain() and stop() may be
// called from any thread (a signal-waiting thread, typically); the destructor stops.

#include <agentrt/server/server_config.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace agentrt {
class Runtime;
} // namespace agentrt

namespace agentrt::server {

class HttpServer {
public:
  HttpServer(Runtime& runtime, ServerConfig config);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  /// Binds, listens and starts the I/O threads. Throws std::system_error when the address
  /// cannot be bound (the message names it).
  void start();

  /// The port listened on (the chosen one when the config said 0); 0 before start().
  std::uint16_t port() const noexcept;

  /// Starts draining: /ready answers 503 from now on, new calls get 503 `shutting_down`,
  /// running calls go on. Waits until the calls this server started have ended, at most
  /// `wait`; returns how many are still running.
  std::size_t drain(std::chrono::milliseconds wait);

  /// Stops accepting, lets streams flush what they have for at most `flush`, closes every
  /// connection and joins the threads. Calls still running are not cancelled (the Runtime
  /// owns them: shut it down first to end them, so their streams send a last event).
  void stop(std::chrono::milliseconds flush = std::chrono::milliseconds{1'000});

  /// The metrics page, as /metrics serves it (Prometheus text format).
  std::string metrics_text() const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace agentrt::server
