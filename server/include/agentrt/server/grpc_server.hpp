#pragma once

// GrpcServer: the gRPC AgentService (proto/agent_platform.proto) over one agentrt Runtime,
// on gRPC's callback API: tasks (answered whole, or streamed one chunk per event) and tools,
// the session id on every message and in the `x-session-id` header. No thread is held per
// call or stream: a call's events are pushed from the runtime to its stream, one write at a
// time. The contract (fields, status codes, what a task-level failure is) is in the README
// ("The gRPC service").
//
// Lifetime: the Runtime must outlive the GrpcServer. start() once; drain() and stop() may be
// called from any thread; the destructor stops.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt {
class Runtime;
} // namespace agentrt

namespace agentrt::server {

struct GrpcConfig {
  /// Loopback by default: exposing a server is a decision, not an accident.
  std::string bind_address = "127.0.0.1";
  /// 0 picks a free port (GrpcServer::port() tells which).
  std::uint16_t port = 50051;
  /// The largest request message; a task is its input plus a little around it. Larger ones
  /// get RESOURCE_EXHAUSTED from gRPC before they reach the runtime.
  std::size_t max_message_bytes = (1u << 20) + 64 * 1024;
  /// The server pings an idle connection this often (HTTP/2 keepalive), so a client or
  /// proxy that vanished is noticed and its calls cancelled.
  std::chrono::milliseconds keepalive{30'000};
  /// Bytes of chunks a stream may hold for a client that does not read them; past it the
  /// rpc is cancelled (and its call with it), so a stalled client cannot grow the server.
  std::size_t max_stream_backlog = 4u << 20;
  /// Pass an agent's or tool's error text to the client (as ServerConfig::expose_errors).
  bool expose_errors = false;
  /// One line per rpc (method, status, session, time).
  bool access_log = true;
  /// Where the server logs; null: nowhere.
  std::shared_ptr<spdlog::logger> logger;
};

class GrpcServer {
public:
  GrpcServer(Runtime& runtime, GrpcConfig config);
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;
  ~GrpcServer();

  /// Binds and starts serving. Throws std::system_error when the address cannot be bound.
  void start();

  /// The port listened on (the chosen one when the config said 0); 0 before start().
  std::uint16_t port() const noexcept;

  /// Starts draining: new rpcs get UNAVAILABLE (`shutting_down`), running ones go on. Waits
  /// until the rpcs this server started have ended, at most `wait`; returns how many are
  /// still running.
  std::size_t drain(std::chrono::milliseconds wait);

  /// Stops: rpcs still running after `grace` are cancelled (so are their calls), then waits
  /// for every rpc to end.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{1'000});

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace agentrt::server
