#pragma once

// The report of a sustained call load: N calls kept in flight for a while, each checked,
// counted and timed. Shared by agentrt-grpc-load and agentrt-sse-load's --unary and
// --seconds modes, so that the gRPC and HTTP figures come out as the same JSON object:
//
//   {"protocol", "mode", "target", "agent", "concurrency", "connections", "sessions",
//    "calls" (answered and checked ok), "errors", "error_samples", "seconds" (first call
//    started to last one ended), "calls_per_s", "chunks" (events), "content_chunks" (the
//    `chunk` events), "chunks_per_s", "content_chunks_per_s", "chunks_per_call" {min, max},
//    "p50_us", "p99_us", "max_us" (a call: sent to answered, or to the stream's end),
//    "first_chunk_p50_us", "first_chunk_p99_us" (streams), "server" {cpu_s,
//    cpu_us_per_call, max_threads, peak_rss_mb} (with --server-pid), "client_cpu_s",
//    "machine" {cpus, busy_cpu_s, other_cpu_s}}
//
// A Tally belongs to one lane (one call in flight at a time), so it needs no lock; the
// lanes' tallies are merged once every lane has stopped.

#include "proc_stats.hpp"

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace sse_load {

struct Tally {
  std::uint64_t calls = 0; // checked ok
  std::uint64_t errors = 0;
  std::uint64_t chunks = 0;
  std::uint64_t content_chunks = 0;
  std::uint64_t min_chunks = UINT64_MAX;
  std::uint64_t max_chunks = 0;
  std::vector<double> latency_us;
  std::vector<double> first_chunk_us;
  std::vector<std::string> error_samples;

  void ok(double us, std::uint64_t events = 0, std::uint64_t content = 0) {
    ++calls;
    latency_us.push_back(us);
    chunks += events;
    content_chunks += content;
    min_chunks = std::min(min_chunks, events);
    max_chunks = std::max(max_chunks, events);
  }

  void error(std::string why) {
    ++errors;
    if (error_samples.size() < 5)
      error_samples.push_back(std::move(why));
  }

  void merge(const Tally& o) {
    calls += o.calls;
    errors += o.errors;
    chunks += o.chunks;
    content_chunks += o.content_chunks;
    min_chunks = std::min(min_chunks, o.min_chunks);
    max_chunks = std::max(max_chunks, o.max_chunks);
    latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
    first_chunk_us.insert(first_chunk_us.end(), o.first_chunk_us.begin(), o.first_chunk_us.end());
    for (const auto& e : o.error_samples)
      if (error_samples.size() < 5)
        error_samples.push_back(e);
  }
};

/// Nearest-rank percentile of a sorted vector; 0 when it is empty.
inline double nearest_rank(const std::vector<double>& sorted, double p) {
  if (sorted.empty())
    return 0.0;
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

inline double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// What the run costs: the server's process tree (sampled every 100 ms on a thread of its
/// own for threads and memory), this process, and the whole machine.
class CostMeter {
public:
  explicit CostMeter(std::vector<int> server_pids) : server_(std::move(server_pids)) {
    // nop
  }

  void start() {
    server_.start();
    cpu0_ = self_cpu_seconds();
    busy0_ = machine_busy_seconds();
    if (!server_.empty())
      sampler_ = std::jthread{[this](std::stop_token stop) {
        while (!stop.stop_requested()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          server_.sample();
        }
      }};
  }

  void finish() {
    if (sampler_.joinable()) {
      sampler_.request_stop();
      sampler_.join();
    }
    server_.finish();
    client_cpu_ = self_cpu_seconds() - cpu0_;
    busy_ = machine_busy_seconds() - busy0_;
  }

  /// Adds "server", "client_cpu_s" and "machine" to a report of `calls` calls.
  void report(nlohmann::json& j, std::uint64_t calls) const {
    if (!server_.empty())
      j["server"] = {{"cpu_s", server_.cpu_seconds()},
                     {"cpu_us_per_call",
                      calls ? server_.cpu_seconds() * 1e6 / static_cast<double>(calls) : 0.0},
                     {"max_threads", server_.max_threads()},
                     {"peak_rss_mb", server_.peak_rss_mb()}};
    j["client_cpu_s"] = client_cpu_;
    j["machine"] = {{"cpus", std::thread::hardware_concurrency()},
                    {"busy_cpu_s", busy_},
                    {"other_cpu_s", std::max(0.0, busy_ - client_cpu_
                                                    - (server_.empty() ? 0.0
                                                                       : server_.cpu_seconds()))}};
  }

private:
  ProcTree server_;
  std::jthread sampler_;
  double cpu0_ = 0, busy0_ = 0, client_cpu_ = 0, busy_ = 0;
};

struct RunShape {
  std::string protocol; // grpc, http
  std::string mode;     // unary, stream
  std::string target;
  std::string agent;
  std::size_t concurrency = 0;
  std::size_t connections = 0; // channels (gRPC) or TCP connections (HTTP) at most at once
  std::size_t sessions = 0;
};

inline nlohmann::json call_report(const RunShape& shape, Tally t, double seconds,
                                  const CostMeter& cost) {
  std::sort(t.latency_us.begin(), t.latency_us.end());
  std::sort(t.first_chunk_us.begin(), t.first_chunk_us.end());
  auto per_s = [&](std::uint64_t n) { return seconds > 0 ? static_cast<double>(n) / seconds : 0.0; };
  nlohmann::json j{{"protocol", shape.protocol},
                   {"mode", shape.mode},
                   {"target", shape.target},
                   {"agent", shape.agent},
                   {"concurrency", shape.concurrency},
                   {"connections", shape.connections},
                   {"sessions", shape.sessions},
                   {"calls", t.calls},
                   {"errors", t.errors},
                   {"error_samples", t.error_samples},
                   {"seconds", seconds},
                   {"calls_per_s", per_s(t.calls)},
                   {"chunks", t.chunks},
                   {"content_chunks", t.content_chunks},
                   {"chunks_per_s", per_s(t.chunks)},
                   {"content_chunks_per_s", per_s(t.content_chunks)},
                   {"chunks_per_call",
                    {{"min", t.calls ? t.min_chunks : 0}, {"max", t.max_chunks}}},
                   {"p50_us", nearest_rank(t.latency_us, 0.50)},
                   {"p99_us", nearest_rank(t.latency_us, 0.99)},
                   {"max_us", t.latency_us.empty() ? 0.0 : t.latency_us.back()}};
  if (shape.mode == "stream") {
    j["first_chunk_p50_us"] = nearest_rank(t.first_chunk_us, 0.50);
    j["first_chunk_p99_us"] = nearest_rank(t.first_chunk_us, 0.99);
  }
  cost.report(j, t.calls);
  return j;
}

/// The human line (and the first error samples) for a report.
inline void print_call_report(std::FILE* out, const nlohmann::json& j) {
  std::fprintf(out, "%s %s: %llu calls in %.2f s = %.0f calls/s", j["protocol"].get<std::string>().c_str(),
               j["mode"].get<std::string>().c_str(),
               static_cast<unsigned long long>(j["calls"].get<std::uint64_t>()),
               j["seconds"].get<double>(), j["calls_per_s"].get<double>());
  if (j["chunks"].get<std::uint64_t>() > 0)
    std::fprintf(out, ", %.0f chunks/s (%llu..%llu per call)", j["chunks_per_s"].get<double>(),
                 static_cast<unsigned long long>(j["chunks_per_call"]["min"].get<std::uint64_t>()),
                 static_cast<unsigned long long>(j["chunks_per_call"]["max"].get<std::uint64_t>()));
  std::fprintf(out, "; p50 %.0f us, p99 %.0f us", j["p50_us"].get<double>(),
               j["p99_us"].get<double>());
  if (j.contains("first_chunk_p50_us"))
    std::fprintf(out, " (first chunk p50 %.0f us, p99 %.0f us)",
                 j["first_chunk_p50_us"].get<double>(), j["first_chunk_p99_us"].get<double>());
  std::fprintf(out, "; %llu errors", static_cast<unsigned long long>(j["errors"].get<std::uint64_t>()));
  if (j.contains("server"))
    std::fprintf(out, "; server cpu %.2f s (%.0f us/call, %llu threads)",
                 j["server"]["cpu_s"].get<double>(), j["server"]["cpu_us_per_call"].get<double>(),
                 static_cast<unsigned long long>(j["server"]["max_threads"].get<std::uint64_t>()));
  std::fprintf(out, "; client cpu %.2f s, other %.2f s\n", j["client_cpu_s"].get<double>(),
               j["machine"]["other_cpu_s"].get<double>());
  for (const auto& e : j["error_samples"])
    std::fprintf(out, "  error: %s\n", e.get<std::string>().c_str());
}

} // namespace sse_load
