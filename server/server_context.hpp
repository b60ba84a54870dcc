#pragma once

// ServerContext: what every part of one HttpServer shares. Built once by HttpServer; the
// parts hold a reference, never a copy.

#include "http/doorbell.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"
#include "streams/call_table.hpp"
#include "streams/gate.hpp"

#include <agentrt/server/server_config.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt {
class Runtime;
} // namespace agentrt

namespace agentrt::server::detail {

struct ServerContext {
  ServerContext(Runtime& rt, ServerConfig cfg);

  /// Holds an Exchange waiting on the Runtime (a reply, a stream's first event) until it
  /// is answered: the Runtime's callbacks hold only weak references, so nothing of the
  /// server outlives it inside a call.
  void park(const ExchangePtr& ex);
  void unpark(const Exchange* ex);

  Runtime& runtime;
  const ServerConfig config;
  std::shared_ptr<spdlog::logger> log; ///< never null
  GatePtr gate = std::make_shared<Gate>();
  /// Where routes that wait on a session run (describe, history, state, close).
  boost::asio::thread_pool admin;
  Router router;
  Metrics metrics;
  CallTable calls;
  /// Set when a drain starts: /ready says 503 and new calls are refused.
  std::atomic<bool> draining{false};
  /// Answers handed to a connection and not yet written (or streams not yet open), so
  /// stop() lets them go out.
  std::atomic<std::int64_t> answers_pending{0};

  std::mutex parked_mu;
  std::unordered_map<const Exchange*, ExchangePtr> parked; // guarded by parked_mu

  Doorbell doorbell{io}; ///< binds to `io` (declared after it, used only once it runs)

  /// Last: destroyed first, with the handlers it still holds (connections, timers), while
  /// what they use (metrics, the logger, the call table) is still there.
  boost::asio::io_context io;
};

} // namespace agentrt::server::detail
