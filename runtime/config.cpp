#include "runtime/config.hpp"

#include "core/validation.hpp"

#include <agentrt/session_store.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <limits>
#include <thread>

namespace agentrt::detail {

namespace {

void validate(const RuntimeConfig& c) {
  auto fail = [](const char* what) {
    throw std::invalid_argument(std::string{"agentrt: RuntimeConfig::"} + what);
  };
  if (c.worker_threads && *c.worker_threads == 0)
    fail("worker_threads must be at least 1 (or unset: one per core)");
  if (c.supervisor_shards && *c.supervisor_shards == 0)
    fail("supervisor_shards must be at least 1 (or unset: one per worker)");
  if (c.max_sessions && *c.max_sessions == 0)
    fail("max_sessions must be at least 1 (or unset: no cap)");
  if (c.blocking_threads == 0)
    fail("blocking_threads must be at least 1");
  if (c.max_queue_depth == 0)
    fail("max_queue_depth must be at least 1");
  if (c.max_input_bytes == 0)
    fail("max_input_bytes must be at least 1");
  if (c.idle_timeout.count() <= 0)
    fail("idle_timeout must be positive");
  if (c.max_lifetime.count() <= 0)
    fail("max_lifetime must be positive");
  if (c.expiry_interval.count() <= 0)
    fail("expiry_interval must be positive");
  if (c.default_timeout.count() <= 0)
    fail("default_timeout must be positive");
  if (c.shutdown_drain.count() < 0)
    fail("shutdown_drain must not be negative");
  if (c.request_id_ttl.count() <= 0)
    fail("request_id_ttl must be positive");
  if (c.calls_kept_for.count() < 0)
    fail("calls_kept_for must not be negative");
  if (c.events_kept > std::numeric_limits<std::uint32_t>::max()
      || c.event_bytes_kept > std::numeric_limits<std::uint32_t>::max())
    fail("events_kept and event_bytes_kept must fit in 32 bits");
}

} // namespace

RuntimeConfig resolved(RuntimeConfig c) {
  validate(c);
  for (auto* d : {&c.idle_timeout, &c.max_lifetime, &c.expiry_interval, &c.default_timeout,
                  &c.shutdown_drain, &c.request_id_ttl, &c.calls_kept_for})
    *d = saturated(*d);
  if (!c.worker_threads)
    c.worker_threads = std::max(1u, std::thread::hardware_concurrency());
  if (!c.supervisor_shards)
    c.supervisor_shards = c.worker_threads;
  if (!c.store) {
    if (!c.postgres.conninfo.empty())
      c.store = open_postgres_store(c.postgres);
    else if (!c.store_path.empty())
      c.store = open_sqlite_store(c.store_path);
    else
      c.store = make_memory_store();
  }
  if (!c.logger) {
    c.logger = std::make_shared<spdlog::logger>("agentrt",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
    c.logger->set_level(spdlog::level::off);
  }
  return c;
}

} // namespace agentrt::detail
