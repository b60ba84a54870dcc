#include "run.hpp"

#include "baselines.hpp"
#include "caf_raw.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <utility>

namespace bench {

std::size_t order_errors(const std::vector<std::size_t>& session_of,
                         const std::vector<std::uint64_t>& turns, std::uint64_t warm) {
  std::map<std::size_t, std::vector<std::uint64_t>> per;
  for (std::size_t i = 0; i < turns.size(); ++i)
    per[session_of[i]].push_back(turns[i]);
  std::size_t errors = 0;
  for (auto& [s, t] : per) {
    std::sort(t.begin(), t.end());
    for (std::size_t k = 0; k < t.size(); ++k)
      if (t[k] != warm + 1 + k)
        ++errors;
  }
  return errors;
}

std::size_t reorders(const std::vector<std::size_t>& session_of,
                     const std::vector<std::uint64_t>& turns, std::size_t threads) {
  std::map<std::pair<std::size_t, std::size_t>, std::uint64_t> last;
  std::size_t n = 0;
  for (std::size_t i = 0; i < turns.size(); ++i) {
    auto& prev = last[{i % threads, session_of[i]}];
    if (turns[i] <= prev)
      ++n;
    prev = turns[i];
  }
  return n;
}

std::string key(std::size_t s, const std::string& prefix) {
  return prefix + "s" + std::to_string(s);
}

Result run_async(System& sys, const std::string& scenario, const std::vector<std::size_t>& session_of,
                 std::size_t window, std::size_t threads, std::uint64_t warm,
                 const std::string& prefix) {
  auto n = session_of.size();
  Recorder rec{n, static_cast<std::ptrdiff_t>(window)};
  std::vector<std::string> keys(n);
  for (std::size_t i = 0; i < n; ++i)
    keys[i] = key(session_of[i], prefix);
  auto start = Clock::now();
  std::vector<std::thread> submitters;
  for (std::size_t t = 0; t < threads; ++t)
    submitters.emplace_back([&, t] {
      for (std::size_t i = t; i < n; i += threads) {
        rec.start(i);
        sys.submit(keys[i], rec, i);
      }
    });
  for (auto& s : submitters)
    s.join();
  rec.wait_all(n);
  auto secs = std::chrono::duration<double>(Clock::now() - start).count();
  Result r;
  r.scenario = scenario;
  r.system = sys.name();
  r.calls = n;
  r.seconds = secs;
  r.per_second = n / secs;
  r.rss = rss_bytes();
  latencies(r, rec.latency());
  for (auto ok : rec.ok())
    r.failed_calls += ok ? 0 : 1;
  r.order_errors = order_errors(session_of, rec.turns(), warm);
  r.reorders = reorders(session_of, rec.turns(), threads);
  r.keeps_order = sys.keeps_caller_order();
  return r;
}

void warm_up(System& sys, std::size_t sessions, std::size_t window, const std::string& prefix) {
  std::vector<std::size_t> order(sessions);
  for (std::size_t i = 0; i < sessions; ++i)
    order[i] = i;
  run_async(sys, "warm", order, window, 1, 0, prefix);
}

std::vector<std::pair<std::string, Factory>> systems(const Options& o, Work work, bool blocking,
                                                     std::size_t pool, AgentrtOptions ao) {
  auto workers = o.workers ? o.workers : cores();
  auto baseline_threads = blocking ? pool : workers;
  ao.workers = workers;
  ao.scheduler = o.scheduler;
  ao.blocking = blocking;
  ao.blocking_threads = blocking ? pool : 16;
  std::vector<std::pair<std::string, Factory>> out;
  out.emplace_back("agentrt", [=] { return std::make_unique<AgentrtSystem>(work, ao); });
  if (o.baselines) {
    out.emplace_back("mutex-map", [=] {
      return std::make_unique<MutexMapSystem>(work, baseline_threads);
    });
    out.emplace_back("strand", [=] { return std::make_unique<StrandSystem>(work, baseline_threads); });
    // Blocking work would hold CAF's few workers: a plain CAF program would not do that.
    if (!blocking)
      out.emplace_back("caf-raw", [=] {
        return std::make_unique<CafRawSystem>(work, workers,
                                              o.scheduler == agentrt::SchedulerPolicy::stealing);
      });
  }
  return out;
}

std::vector<std::size_t> round_robin(std::size_t calls, std::size_t sessions) {
  std::vector<std::size_t> order(calls);
  for (std::size_t i = 0; i < calls; ++i)
    order[i] = i % sessions;
  return order;
}


AgentrtOptions agentrt_options(const Options& o) {
  AgentrtOptions ao;
  ao.workers = o.workers ? o.workers : cores();
  ao.scheduler = o.scheduler;
  return ao;
}

nlohmann::json workload(std::size_t sessions, std::size_t calls, std::size_t window,
                        std::size_t callers, const Work& work) {
  return {{"sessions", sessions}, {"calls", calls},        {"window", window},
          {"callers", callers},   {"spin_ns", work.spin_ns}, {"sleep_ms", work.sleep_ms}};
}

} // namespace bench
