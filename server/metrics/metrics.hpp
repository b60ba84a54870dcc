#pragma once

// Metrics: what /metrics reports besides the runtime's own counters: HTTP requests by route
// and status, open connections and streams, and the turn and queue-wait times of the calls
// this server made. Thread-safe; the hot counters are atomics.

#include "metrics/histogram.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace agentrt {
struct Reply;
struct RuntimeStats;
} // namespace agentrt

namespace agentrt::server::detail {

class Metrics {
public:
  void request_done(std::string_view route, unsigned status);
  void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void stream_opened() noexcept { streams_.fetch_add(1, std::memory_order_relaxed); }
  void stream_closed() noexcept { streams_.fetch_sub(1, std::memory_order_relaxed); }
  /// A call this server made has its outcome.
  void call_done(const Reply& reply) noexcept;

  std::int64_t open_streams() const noexcept { return streams_.load(std::memory_order_relaxed); }

  /// The Prometheus text page: `stats` and this server's own figures.
  std::string render(const RuntimeStats& stats, bool draining) const;

private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_; // guarded by mu_
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::int64_t> streams_{0};
  Histogram turn_time_;
  Histogram queue_wait_;
};

} // namespace agentrt::server::detail
