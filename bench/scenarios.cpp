// The scenarios: each runs one workload through every system it compares and returns one
// Result per system, stamped with the workload.

#include "scenarios.hpp"

#include "llm.hpp"
#ifdef AGENTRT_BENCH_HTTP
#include "llm_http.hpp"
#endif
#include "run.hpp"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace bench {

namespace {

std::vector<Result> stamped(std::vector<Result> rs, const nlohmann::json& w) {
  for (auto& r : rs)
    r.workload = w;
  return rs;
}

std::vector<Result> spread(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{10'000}, std::size_t{200});
  auto calls = o.pick(o.calls, std::size_t{2'000'000}, std::size_t{20'000});
  auto window = o.window.value_or(1000);
  auto order = round_robin(calls, sessions);
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), 0}, false, 0)) {
    auto sys = make();
    warm_up(*sys, sessions, window);
    out.push_back(run_async(*sys, "spread", order, window, o.threads.value_or(1), 1));
  }
  return stamped(out, workload(sessions, calls, window, o.threads.value_or(1), {o.spin_ns.value_or(0), 0}));
}

std::vector<Result> hot(const Options& o) {
  auto calls = o.pick(o.calls, std::size_t{200'000}, std::size_t{2'000});
  auto spin = o.spin_ns.value_or(10'000);
  std::vector<std::size_t> order(calls, 0);
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{spin, 0}, false, 0)) {
    auto sys = make();
    warm_up(*sys, 1, 1);
    auto r = run_async(*sys, "hot", order, o.window.value_or(256), o.threads.value_or(8), 1);
    r.extra["serial_limit_per_s"] = 1e9 / static_cast<double>(spin);
    out.push_back(r);
  }
  return stamped(out, workload(1, calls, o.window.value_or(256), o.threads.value_or(8), {spin, 0}));
}

/// The spread workload (many sessions, no work) three ways in one run: as is, every call
/// with its own request id, and every call resumable (its events and the call kept for
/// attach). What request ids and event retention cost a call.
std::vector<Result> retry(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{10'000}, std::size_t{200});
  auto calls = o.pick(o.calls, std::size_t{1'000'000}, std::size_t{10'000});
  auto window = o.window.value_or(1000);
  auto order = round_robin(calls, sessions);
  std::vector<Result> out;
  for (int variant = 0; variant < 3; ++variant) {
    auto ao = agentrt_options(o);
    ao.request_ids = variant == 1;
    ao.resumable = variant == 2;
    AgentrtSystem sys{Work{o.spin_ns.value_or(0), 0}, ao};
    warm_up(sys, sessions, window);
    auto r = run_async(sys, "retry", order, window, o.threads.value_or(1), 1);
    r.extra["ns_per_call"] = 1e9 / r.per_second;
    out.push_back(r);
  }
  return stamped(out, workload(sessions, calls, window, o.threads.value_or(1), {o.spin_ns.value_or(0), 0}));
}

std::vector<Result> cold(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{100'000}, std::size_t{2'000});
  std::vector<std::size_t> order(sessions);
  for (std::size_t i = 0; i < sessions; ++i)
    order[i] = i;
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), 0}, false, 0)) {
    auto sys = make();
    out.push_back(run_async(*sys, "cold", order, o.window.value_or(1000), o.threads.value_or(1), 0));
  }
  return stamped(out, workload(sessions, sessions, o.window.value_or(1000), o.threads.value_or(1),
                               {o.spin_ns.value_or(0), 0}));
}

std::vector<Result> blocking(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{1000}, std::size_t{50});
  auto sleep = o.pick(o.sleep_ms, std::int64_t{5}, std::int64_t{1});
  auto pool = o.pick(o.pool, std::size_t{64}, std::size_t{8});
  auto calls = o.pick(o.calls, std::size_t{20'000}, std::size_t{500});
  auto order = round_robin(calls, sessions);
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), sleep}, true, pool)) {
    auto sys = make();
    warm_up(*sys, sessions, o.window.value_or(1000));
    auto r = run_async(*sys, "blocking", order, o.window.value_or(1000), o.threads.value_or(1), 1);
    r.extra["pool_limit_per_s"] = pool * 1000.0 / static_cast<double>(sleep ? sleep : 1);
    out.push_back(r);
  }
  auto w = workload(sessions, calls, o.window.value_or(1000), o.threads.value_or(1),
                    {o.spin_ns.value_or(0), sleep});
  w["pool"] = pool;
  return stamped(out, w);
}

std::vector<Result> latency(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{1000}, std::size_t{50});
  auto calls = o.pick(o.calls, std::size_t{50'000}, std::size_t{500});
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), 0}, false, 0)) {
    auto sys = make();
    warm_up(*sys, sessions, 1000);
    std::vector<std::int64_t> ns(calls);
    std::vector<std::uint64_t> turns(calls);
    std::vector<std::size_t> session_of(calls);
    std::vector<std::string> keys(sessions);
    for (std::size_t s = 0; s < sessions; ++s)
      keys[s] = key(s);
    auto start = Clock::now();
    for (std::size_t i = 0; i < calls; ++i) {
      session_of[i] = i % sessions;
      auto t0 = now_ns();
      turns[i] = sys->call(keys[session_of[i]]);
      ns[i] = now_ns() - t0;
    }
    Result r;
    r.scenario = "latency";
    r.system = sys->name();
    r.calls = calls;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.per_second = calls / r.seconds;
    r.rss = rss_bytes();
    latencies(r, ns);
    for (auto t : turns)
      r.failed_calls += t == 0;
    r.order_errors = order_errors(session_of, turns, 1);
    r.reorders = reorders(session_of, turns, 1);
    r.keeps_order = sys->keeps_caller_order();
    out.push_back(r);
  }
  return stamped(out, workload(sessions, calls, 1, 1, {o.spin_ns.value_or(0), 0}));
}

/// Creates N sessions (one call each) and measures what they keep. Each system runs in its
/// own forked process, so memory freed by an earlier system cannot make a later one look
/// small, and the harness's own buffers are allocated before the first reading.
std::vector<Result> memory(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{1'000'000}, std::size_t{5'000});
  auto window = o.window.value_or(1000);
  std::vector<Result> out;
  auto all = systems(o, Work{}, false, 0);
  // The second tier: the same sessions once idle past idle_timeout, passivated to the
  // (memory) store's compact form and their actors freed.
  auto passivated = agentrt_options(o);
  passivated.idle_timeout = std::chrono::milliseconds(100);
  passivated.expiry_interval = std::chrono::milliseconds(20);
  passivated.name = "agentrt passivated";
  passivated.settle_passivated = true;
  all.insert(all.begin() + 1, {passivated.name, [=] {
               return std::make_unique<AgentrtSystem>(Work{}, passivated);
             }});
  for (auto& [name, make] : all) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("agentrt-bench: pipe");
      std::exit(1);
    }
    struct Wire {
      double seconds, bytes_per_session;
      std::size_t rss, failed, order;
    } wire{};
    auto pid = fork();
    if (pid == 0) {
      close(fds[0]);
      std::vector<std::string> keys(sessions);
      for (std::size_t i = 0; i < sessions; ++i)
        keys[i] = key(i);
      Recorder rec{sessions, static_cast<std::ptrdiff_t>(window)};
      auto sys = make();
      malloc_trim(0);
      auto before = rss_bytes();
      auto start = Clock::now();
      for (std::size_t i = 0; i < sessions; ++i) {
        rec.start(i);
        sys->submit(keys[i], rec, i);
      }
      rec.wait_all(sessions);
      wire.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (!sys->settle(std::chrono::seconds(120)))
        wire.failed = sessions; // never came to rest: counted as failed
      malloc_trim(0);
      wire.rss = rss_bytes();
      wire.bytes_per_session = static_cast<double>(wire.rss - std::min(wire.rss, before)) / sessions;
      for (std::size_t i = 0; i < sessions; ++i) {
        wire.failed += rec.ok()[i] ? 0 : 1;
        wire.order += rec.turns()[i] == 1 ? 0 : 1;
      }
      // Nothing was lost at rest: every 100th session (each one in a quick run) answers a
      // second call as its turn 2.
      std::size_t step = o.quick ? 1 : 100;
      std::vector<std::size_t> again;
      for (std::size_t i = 0; i < sessions; i += step)
        again.push_back(i);
      Recorder second{again.size(), static_cast<std::ptrdiff_t>(window)};
      for (std::size_t k = 0; k < again.size(); ++k) {
        second.start(k);
        sys->submit(keys[again[k]], second, k);
      }
      second.wait_all(again.size());
      for (std::size_t k = 0; k < again.size(); ++k) {
        wire.failed += second.ok()[k] ? 0 : 1;
        wire.order += second.turns()[k] == 2 ? 0 : 1;
      }
      auto n = write(fds[1], &wire, sizeof wire);
      _exit(n == sizeof wire ? 0 : 1);
    }
    close(fds[1]);
    auto n = read(fds[0], &wire, sizeof wire);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    Result r;
    r.scenario = "memory";
    r.system = name;
    r.calls = sessions;
    if (n != sizeof wire || status != 0) {
      r.failed_calls = sessions;
    } else {
      r.seconds = wire.seconds;
      r.per_second = sessions / wire.seconds;
      r.rss = wire.rss;
      r.bytes_per_session = wire.bytes_per_session;
      r.failed_calls = wire.failed;
      r.order_errors = wire.order;
    }
    out.push_back(r);
  }
  return stamped(out, workload(sessions, sessions, window, 1, {}));
}

std::vector<Result> churn(const Options& o) {
  // The same stream of calls twice: each key gets `per_key` calls and then goes quiet.
  // Without expiry the quiet sessions stay; with a short idle timeout they expire
  // continuously while the calls run. The p99 of the two runs is compared.
  auto calls = o.pick(o.calls, std::size_t{300'000}, std::size_t{3'000});
  std::size_t per_key = 10;
  std::vector<std::size_t> order(calls);
  for (std::size_t i = 0; i < calls; ++i)
    order[i] = i / per_key;
  std::vector<Result> out;
  for (bool expiring : {false, true}) {
    auto ao = agentrt_options(o);
    if (expiring) {
      ao.idle_timeout = std::chrono::milliseconds(20);
      ao.expiry_interval = std::chrono::milliseconds(5);
    }
    AgentrtSystem sys{Work{o.spin_ns.value_or(0), 0}, ao};
    auto r = run_async(sys, "churn", order, o.window.value_or(100), 1, 0);
    r.system = expiring ? "agentrt+expiry" : "agentrt";
    auto stats = sys.runtime().stats();
    r.extra["expirations"] = stats.expirations;
    r.extra["activations"] = stats.activations;
    out.push_back(r);
  }
  auto w = workload(calls / per_key, calls, o.window.value_or(100), 1, {o.spin_ns.value_or(0), 0});
  w["calls_per_session"] = per_key;
  return stamped(out, w);
}

/// The durable workload (`order` over `sessions`, warmed first) through agentrt on `ao`.
Result durable_run(const Options& o, const std::string& scenario, AgentrtOptions ao,
                   const std::vector<std::size_t>& order, std::size_t sessions,
                   const std::string& prefix = "") {
  auto window = o.window.value_or(1000);
  AgentrtSystem sys{Work{o.spin_ns.value_or(0), 0}, ao};
  warm_up(sys, sessions, window, prefix);
  return run_async(sys, scenario, order, window, o.threads.value_or(1), 1, prefix);
}

/// The durable workload with every turn saved to a fresh SQLite file.
Result durable_sqlite(const Options& o, const std::string& scenario,
                      const std::vector<std::size_t>& order, std::size_t sessions) {
  char dir[] = "/tmp/agentrt-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    std::perror("agentrt-bench: mkdtemp");
    std::exit(1);
  }
  std::string path = std::string{dir} + "/durable.db";
  auto ao = agentrt_options(o);
  ao.store_path = path;
  auto r = durable_run(o, scenario, ao, order, sessions);
  for (auto suffix : {"", "-wal", "-shm"})
    std::remove((path + suffix).c_str());
  rmdir(dir);
  return r;
}

/// Spread-like calls with every turn saved to SQLite before its reply, next to the same
/// stream through the in-memory runtime.
std::vector<Result> durable(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{1000}, std::size_t{50});
  auto order = round_robin(o.pick(o.calls, std::size_t{200'000}, std::size_t{2'000}), sessions);
  return stamped({durable_run(o, "durable", agentrt_options(o), order, sessions),
                  durable_sqlite(o, "durable", order, sessions)},
                 workload(sessions, order.size(), o.window.value_or(1000), o.threads.value_or(1),
                          {o.spin_ns.value_or(0), 0}));
}

/// A prefix for this run's session ids and node names: runs share the database, and a
/// session left by an earlier run would start at its old turn (and under its old lease).
std::string run_id() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  return "bench" + std::to_string(ms) + "-" + std::to_string(getpid());
}

/// One node of a PostgreSQL store named `node`.
AgentrtOptions postgres_node(const Options& o, const std::string& conninfo, const std::string& node) {
  auto ao = agentrt_options(o);
  ao.postgres.conninfo = conninfo;
  ao.postgres.node = node;
  return ao;
}

/// The durable workload over three nodes (Runtimes) in this process, the sessions split
/// between them by a consistent hash as the proxy would split them: the same calls and
/// window as on one node, shared by three writers and three connections.
Result durable_pg_nodes(const Options& o, const std::string& conninfo, const std::string& run,
                        const std::vector<std::size_t>& order, std::size_t sessions) {
  auto prefix = run + "-x3-";
  std::vector<std::unique_ptr<AgentrtSystem>> nodes;
  for (int n = 1; n <= 3; ++n)
    nodes.push_back(std::make_unique<AgentrtSystem>(
      Work{o.spin_ns.value_or(0), 0}, postgres_node(o, conninfo, run + "-n" + std::to_string(n))));
  ShardedSystem sys{"agentrt+postgres x3", std::move(nodes)};
  auto window = o.window.value_or(1000);
  warm_up(sys, sessions, window, prefix);
  auto r = run_async(sys, "durable-pg", order, window, o.threads.value_or(1), 1, prefix);
  // How evenly the hash split the calls: the slowest node sets the pace.
  std::vector<std::size_t> per_node(3);
  for (auto s : order)
    ++per_node[sys.node_of(key(s, prefix))];
  r.extra["calls_per_node"] = per_node;
  return r;
}

/// A run that could not start (the database refused): every call counted as failed.
Result could_not_run(const std::string& system, std::size_t calls, const std::exception& e) {
  std::fprintf(stderr, "agentrt-bench: durable-pg: %s: %s\n", system.c_str(), e.what());
  Result r;
  r.scenario = "durable-pg";
  r.system = system;
  r.calls = calls;
  r.failed_calls = calls;
  return r;
}

/// The durable workload on the PostgreSQL store nodes share (docs: SCALE-OUT), one node and
/// three, beside SQLite in the same run: what leases, fencing and a network round trip per
/// group commit cost against a local file.
std::vector<Result> durable_pg(const Options& o) {
  auto conninfo = o.postgres;
  if (auto* env = std::getenv("AGENTRT_BENCH_POSTGRES"); conninfo.empty() && env)
    conninfo = env;
  if (conninfo.empty()) {
    std::printf("\ndurable-pg: skipped: no database to write to (--postgres CONNINFO or "
                "AGENTRT_BENCH_POSTGRES)\n");
    return {};
  }
  auto sessions = o.pick(o.sessions, std::size_t{1000}, std::size_t{50});
  auto order = round_robin(o.pick(o.calls, std::size_t{200'000}, std::size_t{2'000}), sessions);
  auto run = run_id();
  std::vector<Result> out{durable_sqlite(o, "durable-pg", order, sessions)};
  try {
    out.push_back(durable_run(o, "durable-pg", postgres_node(o, conninfo, run + "-n0"), order,
                              sessions, run + "-x1-"));
  } catch (const std::exception& e) {
    out.push_back(could_not_run("agentrt+postgres", order.size(), e));
  }
  try {
    out.push_back(durable_pg_nodes(o, conninfo, run, order, sessions));
  } catch (const std::exception& e) {
    out.push_back(could_not_run("agentrt+postgres x3", order.size(), e));
  }
  return stamped(out, workload(sessions, order.size(), o.window.value_or(1000),
                               o.threads.value_or(1), {o.spin_ns.value_or(0), 0}));
}

} // namespace

std::map<std::string, Scenario> scenarios() {
  std::map<std::string, Scenario> out{
    {"spread", spread},   {"hot", hot},       {"cold", cold},   {"blocking", blocking},
    {"latency", latency}, {"memory", memory}, {"churn", churn}, {"durable", durable},
    {"llm", llm},         {"retry", retry},   {"durable-pg", durable_pg}};
#ifdef AGENTRT_BENCH_HTTP
  out.emplace("llm-http", llm_http);
#endif
  return out;
}

} // namespace bench
