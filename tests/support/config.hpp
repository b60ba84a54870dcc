#pragma once

// The Runtime config tests on real threads start from: two workers (the machine has two
// cores), a small blocking pool, a short drain so a failing test does not linger.

#include <agentrt/config.hpp>

#include <chrono>

namespace agentrt_test {

inline agentrt::RuntimeConfig test_config(std::size_t blocking_threads = 4) {
  using namespace std::chrono_literals;
  agentrt::RuntimeConfig c;
  c.worker_threads = 2;
  c.blocking_threads = blocking_threads;
  c.shutdown_drain = 2s;
  return c;
}

} // namespace agentrt_test
