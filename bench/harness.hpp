#pragma once

// What every scenario shares: the options, one system's result, and the readings of this
// process (cores, RSS).

#include <agentrt/agentrt.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

struct Options {
  std::vector<std::string> scenarios{"standard"};
  std::optional<std::size_t> sessions;
  std::optional<std::size_t> calls;
  std::optional<std::size_t> window;
  std::optional<std::int64_t> spin_ns;
  std::optional<std::int64_t> sleep_ms;
  std::optional<std::size_t> threads;
  std::optional<std::size_t> pool;
  std::optional<std::int64_t> tokens;   // llm: tokens per answer
  std::optional<std::int64_t> token_ms; // llm: time between tokens
  std::size_t workers = 0; // agentrt workers and baseline pool for CPU work: 0 = cores
  agentrt::SchedulerPolicy scheduler = agentrt::SchedulerPolicy::sharing;
  bool baselines = true;
  std::string json;
  std::string postgres; // durable-pg: libpq conninfo (else env AGENTRT_BENCH_POSTGRES)
  /// Small sizes for every scenario: a correctness run (exactly once, in order, every
  /// system) in seconds; its figures mean nothing and its targets are not judged.
  bool quick = false;
  /// Runs of each scenario; the tables show the median run and the range.
  std::size_t repeat = 1;

  /// `v` if given, else the scenario's full or quick default.
  template <class T>
  T pick(const std::optional<T>& v, T full, T small) const {
    return v.value_or(quick ? small : full);
  }
};

/// The command line (exits with usage on a bad one).
Options parse_options(int argc, char** argv);

inline std::size_t cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

inline std::size_t rss_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// -- results ----------------------------------------------------------------------------

struct Result {
  std::string scenario;
  std::string system;
  std::size_t calls = 0;
  double seconds = 0;
  double per_second = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  std::size_t rss = 0;
  std::size_t failed_calls = 0;
  /// Turn numbers that are not exactly 1..k per session (lost or doubled calls).
  std::size_t order_errors = 0;
  /// Calls that ran before an earlier call of the same caller to the same session.
  std::size_t reorders = 0;
  bool keeps_order = true;
  double bytes_per_session = 0;
  /// The scenario's parameters (sessions, calls, window, callers, work per turn).
  nlohmann::json workload = nlohmann::json::object();
  /// With --repeat: each run's calls/s and p50 (this Result is the median run's).
  std::vector<double> runs_per_second, runs_p50_us;
  nlohmann::json extra = nlohmann::json::object();

  bool verified() const {
    return failed_calls == 0 && order_errors == 0 && (reorders == 0 || !keeps_order);
  }
};

inline void latencies(Result& r, std::vector<std::int64_t> ns) {
  if (ns.empty())
    return;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    return ns[std::min(ns.size() - 1, static_cast<std::size_t>(q * ns.size()))] / 1000.0;
  };
  r.p50_us = at(0.50);
  r.p90_us = at(0.90);
  r.p99_us = at(0.99);
  r.max_us = ns.back() / 1000.0;
}

} // namespace bench
