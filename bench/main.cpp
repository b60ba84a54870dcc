// agentrt-bench: concurrent-session workloads run through agentrt and through the two
// designs a backend would otherwise write (a mutex-map on a thread pool, Asio strands),
// in one process run, so every figure is also a ratio against the baselines.
//
//   agentrt-bench [--scenario NAME[,NAME...]|standard|all] [knobs] [--json FILE]
//
// Every scenario checks every system the same way: each call's turn number must be unique
// and consecutive within its session (exactly once), and one caller's calls to one session
// must run in the order it made them. A lost or doubled call fails the run; so does a
// reorder by a system that promises caller order (agentrt, strand). mutex-map does not
// (two pool threads can take a caller's calls in either order): its reorders are shown.

#include "harness.hpp"
#include "llm.hpp"
#ifdef AGENTRT_BENCH_HTTP
#include "llm_http.hpp"
#endif
#include "systems.hpp"

#include <nlohmann/json.hpp>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

namespace {

// -- options ----------------------------------------------------------------------------

void usage() {
  std::puts(
    "usage: agentrt-bench [options]\n"
    "  --scenario LIST   spread,hot,cold,blocking,latency,memory,churn,durable,retry,llm,llm-http,\n"
    "                    durable-pg | standard (all but llm-http and durable-pg)\n"
    "  --sessions N      sessions (per scenario default)\n"
    "  --calls N         calls to run\n"
    "  --window N        outstanding async calls\n"
    "  --spin-ns N       busy work per turn\n"
    "  --sleep-ms N      blocking wait per turn\n"
    "  --threads N       caller threads\n"
    "  --pool N          blocking pool / baseline pool size for blocking work (llm: thread-pool)\n"
    "  --tokens N        llm: tokens per answer (default 20)\n"
    "  --token-ms N      llm: ms between tokens, 1 to 16000 (default 100)\n"
    "  --workers N       agentrt workers and baseline threads for CPU work (default: cores)\n"
    "  --policy P        agentrt scheduler: sharing (default) or stealing\n"
    "  --no-baselines    run agentrt only\n"
    "  --postgres CONN   durable-pg: libpq conninfo of a database it may write to (default:\n"
    "                    env AGENTRT_BENCH_POSTGRES; neither: durable-pg is skipped)\n"
    "  --json FILE       write results as JSON");
}

Options parse(int argc, char** argv) {
  Options o;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "agentrt-bench: %s needs a value\n", argv[i]);
      std::exit(2);
    }
    return argv[++i];
  };
  auto number = [](const std::string& s) -> std::int64_t {
    try {
      std::size_t used = 0;
      auto v = std::stoll(s, &used);
      if (used == s.size() && v >= 0)
        return v;
    } catch (...) {
    }
    std::fprintf(stderr, "agentrt-bench: '%s' is not a non-negative number\n", s.c_str());
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--scenario") {
      o.scenarios.clear();
      std::stringstream ss{need(i)};
      for (std::string s; std::getline(ss, s, ',');)
        o.scenarios.push_back(s);
    } else if (a == "--sessions") {
      o.sessions = number(need(i));
    } else if (a == "--calls") {
      o.calls = number(need(i));
    } else if (a == "--window") {
      o.window = std::max<std::int64_t>(1, number(need(i)));
    } else if (a == "--spin-ns") {
      o.spin_ns = number(need(i));
    } else if (a == "--sleep-ms") {
      o.sleep_ms = number(need(i));
    } else if (a == "--threads") {
      o.threads = std::max<std::int64_t>(1, number(need(i)));
    } else if (a == "--pool") {
      o.pool = std::max<std::int64_t>(1, number(need(i)));
    } else if (a == "--tokens") {
      o.tokens = std::max<std::int64_t>(1, number(need(i)));
    } else if (a == "--token-ms") {
      o.token_ms = number(need(i));
      if (*o.token_ms < 1 || *o.token_ms > 16'000) {
        std::fprintf(stderr, "agentrt-bench: --token-ms is 1 to 16000\n");
        std::exit(2);
      }
    } else if (a == "--workers") {
      o.workers = number(need(i));
    } else if (a == "--policy") {
      auto p = need(i);
      if (p != "sharing" && p != "stealing") {
        std::fprintf(stderr, "agentrt-bench: --policy is sharing or stealing\n");
        std::exit(2);
      }
      o.scheduler = p == "sharing" ? agentrt::SchedulerPolicy::sharing
                                   : agentrt::SchedulerPolicy::stealing;
    } else if (a == "--no-baselines") {
      o.baselines = false;
    } else if (a == "--json") {
      o.json = need(i);
    } else if (a == "--postgres") {
      o.postgres = need(i);
    } else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else {
      std::fprintf(stderr, "agentrt-bench: unknown option '%s'\n", a.c_str());
      usage();
      std::exit(2);
    }
  }
  std::vector<std::string> expanded;
  for (auto& s : o.scenarios) {
    if (s == "standard" || s == "all")
      for (auto n : {"spread", "hot", "cold", "blocking", "latency", "churn", "durable", "memory",
                     "retry", "llm"})
        expanded.push_back(n);
    else
      expanded.push_back(s);
  }
  o.scenarios = expanded;
  return o;
}

/// Exactly once, in order: per session, the turn numbers seen must be exactly
/// first, first+1, ..., first+k-1 where first is 1 + the session's warm-up calls.
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

/// Per-caller order: caller t submitted indices t, t+threads, ... in that order; within one
/// session, their turn numbers must increase.
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

/// Session `s`'s id; `prefix` keeps runs against a shared database apart.
std::string key(std::size_t s, const std::string& prefix = "") {
  return prefix + "s" + std::to_string(s);
}

/// Runs `calls` async calls over `session_of` with `threads` submitters and a window.
Result run_async(System& sys, const std::string& scenario, const std::vector<std::size_t>& session_of,
                 std::size_t window, std::size_t threads, std::uint64_t warm,
                 const std::string& prefix = "") {
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

/// One call per session, `window` outstanding, to create (warm) them.
void warm_up(System& sys, std::size_t sessions, std::size_t window, const std::string& prefix = "") {
  std::vector<std::size_t> order(sessions);
  for (std::size_t i = 0; i < sessions; ++i)
    order[i] = i;
  run_async(sys, "warm", order, window, 1, 0, prefix);
}

// -- systems for a scenario ---------------------------------------------------------------

using Factory = std::function<std::unique_ptr<System>()>;

std::vector<std::pair<std::string, Factory>> systems(const Options& o, Work work, bool blocking,
                                                     std::size_t pool, AgentrtOptions ao = {}) {
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
  }
  return out;
}

// -- scenarios ----------------------------------------------------------------------------

/// `calls` calls spread over `sessions` sessions in turn.
std::vector<std::size_t> round_robin(std::size_t calls, std::size_t sessions) {
  std::vector<std::size_t> order(calls);
  for (std::size_t i = 0; i < calls; ++i)
    order[i] = i % sessions;
  return order;
}

std::vector<Result> spread(const Options& o) {
  auto sessions = o.sessions.value_or(10'000);
  auto calls = o.calls.value_or(2'000'000);
  auto window = o.window.value_or(1000);
  auto order = round_robin(calls, sessions);
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), 0}, false, 0)) {
    auto sys = make();
    warm_up(*sys, sessions, window);
    out.push_back(run_async(*sys, "spread", order, window, o.threads.value_or(1), 1));
  }
  return out;
}

std::vector<Result> hot(const Options& o) {
  auto calls = o.calls.value_or(200'000);
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
  return out;
}

/// The spread workload (many sessions, no work) three ways in one run: as is, every call
/// with its own request id, and every call resumable (its events and the call kept for
/// attach). What request ids and event retention cost a call.
std::vector<Result> retry(const Options& o) {
  auto sessions = o.sessions.value_or(10'000);
  auto calls = o.calls.value_or(1'000'000);
  auto window = o.window.value_or(1000);
  auto order = round_robin(calls, sessions);
  std::vector<Result> out;
  for (int variant = 0; variant < 3; ++variant) {
    AgentrtOptions ao;
    ao.workers = o.workers ? o.workers : cores();
    ao.scheduler = o.scheduler;
    ao.request_ids = variant == 1;
    ao.resumable = variant == 2;
    AgentrtSystem sys{Work{o.spin_ns.value_or(0), 0}, ao};
    warm_up(sys, sessions, window);
    auto r = run_async(sys, "retry", order, window, o.threads.value_or(1), 1);
    r.extra["ns_per_call"] = 1e9 / r.per_second;
    out.push_back(r);
  }
  return out;
}

std::vector<Result> cold(const Options& o) {
  auto sessions = o.sessions.value_or(100'000);
  std::vector<std::size_t> order(sessions);
  for (std::size_t i = 0; i < sessions; ++i)
    order[i] = i;
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), 0}, false, 0)) {
    auto sys = make();
    out.push_back(run_async(*sys, "cold", order, o.window.value_or(1000), o.threads.value_or(1), 0));
  }
  return out;
}

std::vector<Result> blocking(const Options& o) {
  auto sessions = o.sessions.value_or(1000);
  auto sleep = o.sleep_ms.value_or(5);
  auto pool = o.pool.value_or(64);
  auto calls = o.calls.value_or(20'000);
  auto order = round_robin(calls, sessions);
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{o.spin_ns.value_or(0), sleep}, true, pool)) {
    auto sys = make();
    warm_up(*sys, sessions, o.window.value_or(1000));
    auto r = run_async(*sys, "blocking", order, o.window.value_or(1000), o.threads.value_or(1), 1);
    r.extra["pool_limit_per_s"] = pool * 1000.0 / static_cast<double>(sleep ? sleep : 1);
    out.push_back(r);
  }
  return out;
}

std::vector<Result> latency(const Options& o) {
  auto sessions = o.sessions.value_or(1000);
  auto calls = o.calls.value_or(50'000);
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
  return out;
}

/// Creates N sessions (one call each) and measures what they keep. Each system runs in its
/// own forked process, so memory freed by an earlier system cannot make a later one look
/// small, and the harness's own buffers are allocated before the first reading.
std::vector<Result> memory(const Options& o) {
  auto sessions = o.sessions.value_or(1'000'000);
  auto window = o.window.value_or(1000);
  std::vector<Result> out;
  for (auto& [name, make] : systems(o, Work{}, false, 0)) {
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
      malloc_trim(0);
      wire.rss = rss_bytes();
      wire.bytes_per_session = static_cast<double>(wire.rss - std::min(wire.rss, before)) / sessions;
      for (std::size_t i = 0; i < sessions; ++i) {
        wire.failed += rec.ok()[i] ? 0 : 1;
        wire.order += rec.turns()[i] == 1 ? 0 : 1;
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
  return out;
}

std::vector<Result> churn(const Options& o) {
  // The same stream of calls twice: each key gets `per_key` calls and then goes quiet.
  // Without expiry the quiet sessions stay; with a short idle timeout they expire
  // continuously while the calls run. The p99 of the two runs is compared.
  auto calls = o.calls.value_or(300'000);
  std::size_t per_key = 10;
  std::vector<std::size_t> order(calls);
  for (std::size_t i = 0; i < calls; ++i)
    order[i] = i / per_key;
  std::vector<Result> out;
  for (bool expiring : {false, true}) {
    AgentrtOptions ao;
    ao.workers = o.workers ? o.workers : cores();
    ao.scheduler = o.scheduler;
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
  return out;
}

AgentrtOptions agentrt_options(const Options& o) {
  AgentrtOptions ao;
  ao.workers = o.workers ? o.workers : cores();
  ao.scheduler = o.scheduler;
  return ao;
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
  auto sessions = o.sessions.value_or(1000);
  auto order = round_robin(o.calls.value_or(200'000), sessions);
  return {durable_run(o, "durable", agentrt_options(o), order, sessions),
          durable_sqlite(o, "durable", order, sessions)};
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
  auto sessions = o.sessions.value_or(1000);
  auto order = round_robin(o.calls.value_or(200'000), sessions);
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
  return out;
}

// -- reporting ------------------------------------------------------------------------------

struct Target {
  std::string text;
  bool met;
  std::string measured;
  bool report = false; // a figure to report, not a target
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

const Result* find(const std::vector<Result>& rs, const std::string& sys) {
  for (auto& r : rs)
    if (r.system == sys)
      return &r;
  return nullptr;
}

std::vector<Target> llm_targets(const std::vector<Result>& rs) {
  std::vector<Target> t;
  auto a = find(rs, "agentrt-coroutine");
  if (!a || a->extra.empty())
    return t;
  auto& x = a->extra;
  double vs_ideal = x.value("vs_ideal", 0.0);
  t.push_back({"wall <= 1.10x ideal", vs_ideal <= 1.10, fmt("%.3fx", vs_ideal)});
  auto workers = x["workload"].value("workers", std::size_t{0});
  auto threads = x.value("threads", std::size_t{0});
  t.push_back({"threads <= workers + 4", threads <= workers + 4,
               std::to_string(threads) + " (" + std::to_string(workers) + " workers)"});
  double kb = x.value("rss_per_turn", 0.0);
  t.push_back({"<= 8 KB RSS per waiting turn", kb <= 8192, fmt("%.0f B", kb)});
  if (auto s = find(rs, "strand-coroutine"); s && !s->extra.empty()) {
    double ratio = s->extra.value("wall_s", 0.0) / x.value("wall_s", 1.0);
    t.push_back({">= strand-coroutine (wall)", ratio >= 1.0, fmt("%.3fx", ratio)});
  }
  return t;
}

/// One node against the target, and what PostgreSQL costs against SQLite and what three
/// nodes on the same database give against one (reported: same-run ratios).
std::vector<Target> durable_pg_targets(const std::vector<Result>& rs) {
  std::vector<Target> t;
  auto lite = find(rs, "agentrt+sqlite");
  auto one = find(rs, "agentrt+postgres");
  auto three = find(rs, "agentrt+postgres x3");
  auto ok = [](const Result* r) { return r && r->verified() && r->per_second > 0; };
  if (!ok(one))
    return t;
  t.push_back({">= 20 k durable turns/s on one node", one->per_second >= 2e4,
               fmt("%.1f k/s", one->per_second / 1e3)});
  if (ok(lite))
    t.push_back({"postgres 1 node / sqlite", true, fmt("%.2fx", one->per_second / lite->per_second),
                 true});
  if (ok(three))
    t.push_back({"postgres x3 / 1 node", true, fmt("%.2fx", three->per_second / one->per_second),
                 true});
  return t;
}

std::vector<Target> targets(const std::string& scenario, const std::vector<Result>& rs) {
  std::vector<Target> t;
  if (scenario == "llm")
    return llm_targets(rs);
  if (scenario == "durable-pg")
    return durable_pg_targets(rs);
  auto a = find(rs, "agentrt");
  auto mm = find(rs, "mutex-map");
  if (!a)
    return t;
  auto ratio = [&](const Result* b) { return b ? a->per_second / b->per_second : 0.0; };
  if (scenario == "spread") {
    t.push_back({">= 1.5 M calls/s", a->per_second >= 1.5e6, fmt("%.2f M/s", a->per_second / 1e6)});
    if (mm)
      t.push_back({">= 1.0x mutex-map", ratio(mm) >= 1.0, fmt("%.2fx", ratio(mm))});
  } else if (scenario == "hot") {
    double limit = a->extra.value("serial_limit_per_s", 0.0);
    t.push_back({">= 0.9x serial limit", a->per_second >= 0.9 * limit,
                 fmt("%.2fx", a->per_second / limit)});
    if (mm)
      t.push_back({">= 1.2x mutex-map", ratio(mm) >= 1.2, fmt("%.2fx", ratio(mm))});
  } else if (scenario == "retry") {
    // Reported, not targets: what each costs a call, as ns and as a ratio of the same run.
    auto with_ids = find(rs, "agentrt+request-ids");
    auto kept = find(rs, "agentrt+resumable");
    if (with_ids)
      t.push_back({"request ids: cost per call", true,
                   fmt("%+.0f ns", 1e9 / with_ids->per_second - 1e9 / a->per_second)
                     + fmt(" (%.2fx)", a->per_second / with_ids->per_second),
                   true});
    if (kept)
      t.push_back({"resumable: cost per call", true,
                   fmt("%+.0f ns", 1e9 / kept->per_second - 1e9 / a->per_second)
                     + fmt(" (%.2fx)", a->per_second / kept->per_second),
                   true});
  } else if (scenario == "cold") {
    t.push_back({">= 300 k activations/s", a->per_second >= 3e5, fmt("%.0f k/s", a->per_second / 1e3)});
  } else if (scenario == "blocking") {
    double limit = a->extra.value("pool_limit_per_s", 0.0);
    t.push_back({">= 0.9x pool limit", a->per_second >= 0.9 * limit,
                 fmt("%.2fx", a->per_second / limit)});
  } else if (scenario == "latency") {
    t.push_back({"p50 <= 30 us", a->p50_us <= 30, fmt("%.1f us", a->p50_us)});
    t.push_back({"p99 <= 250 us", a->p99_us <= 250, fmt("%.1f us", a->p99_us)});
  } else if (scenario == "memory") {
    t.push_back({"<= 1.6 KB per idle session", a->bytes_per_session <= 1600,
                 fmt("%.0f B", a->bytes_per_session)});
  } else if (scenario == "durable") {
    auto d = find(rs, "agentrt+sqlite");
    if (d)
      t.push_back({">= 50 k durable turns/s", d->per_second >= 5e4,
                   fmt("%.0f k/s", d->per_second / 1e3)});
  } else if (scenario == "churn") {
    auto e = find(rs, "agentrt+expiry");
    if (e)
      t.push_back({"p99 with expiry <= 3x without", e->p99_us <= 3 * a->p99_us,
                   fmt("%.2fx", e->p99_us / a->p99_us)});
  }
  return t;
}

void print_targets(const std::vector<Target>& ts) {
  for (auto& t : ts)
    std::printf("  target %-32s %-12s %s\n", t.text.c_str(), t.measured.c_str(),
                t.report ? "(report)" : t.met ? "met" : "MISSED");
}

void print_llm(const std::string& scenario, const std::vector<Result>& rs,
               const std::vector<Target>& ts) {
  if (rs.empty() || rs.front().extra.empty())
    return;
  auto& w = rs.front().extra["workload"];
  std::printf("\n%s: %zu sessions at once, each a turn awaiting %d tokens %d ms apart (ideal %.1f s)\n",
              scenario.c_str(), rs.front().calls, w.value("tokens", 0), w.value("token_ms", 0),
              rs.front().extra.value("ideal_s", 0.0));
  std::printf("  %-18s %8s %9s %8s %8s %9s %10s %10s %s\n", "system", "ran", "wall s", "x ideal",
              "threads", "KB/turn", "ttft p50", "ttft p99", "checked");
  for (auto& r : rs) {
    if (r.extra.empty()) {
      std::printf("  %-18s FAILED: the run crashed\n", r.system.c_str());
      continue;
    }
    auto& x = r.extra;
    std::printf("  %-18s %8zu %8.2f%s %8.2f %8zu %9.1f %8.1f ms %8.1f ms %s\n", r.system.c_str(),
                x.value("sessions_run", std::size_t{0}), x.value("wall_s", 0.0),
                x.value("projected", false) ? "*" : " ", x.value("vs_ideal", 0.0),
                x.value("threads", std::size_t{0}), x.value("rss_per_turn", 0.0) / 1024,
                x.value("ttft_p50_ms", 0.0), x.value("ttft_p99_ms", 0.0),
                r.verified() ? "ok" : ("FAILED: " + std::to_string(r.failed_calls) + " calls").c_str());
  }
  if (scenario == "llm")
    std::printf("  * wall projected from the waves run (a thread per waiting turn: threads turns at a\n"
                "    time); their threads, KB/turn and first-token times are those of the waves run\n");
  print_targets(ts);
}

void print(const std::string& scenario, const std::vector<Result>& rs,
           const std::vector<Target>& ts) {
  if (scenario.rfind("llm", 0) == 0)
    return print_llm(scenario, rs, ts);
  if (rs.empty()) // skipped (it said why)
    return;
  int w = 15; // the system column: as wide as its longest name
  for (auto& r : rs)
    w = std::max(w, static_cast<int>(r.system.size()));
  std::printf("\n%s\n", scenario.c_str());
  std::printf("  %-*s %10s %8s %12s %9s %9s %9s %10s %9s %8s %s\n",
              w, "system", "calls", "secs", "calls/s", "p50 us", "p90 us", "p99 us", "max us", "RSS MB",
              "vs a.rt", "checked");
  auto a = find(rs, "agentrt");
  for (auto& r : rs) {
    std::printf("  %-*s %10zu %8.2f %12.0f %9.1f %9.1f %9.1f %10.1f %9.1f %8s %s\n", w,
                r.system.c_str(), r.calls, r.seconds, r.per_second, r.p50_us, r.p90_us, r.p99_us,
                r.max_us, r.rss / 1048576.0,
                a && &r != a ? fmt("%.2fx", a->per_second / r.per_second).c_str() : "-",
                r.verified()
                  ? (r.reorders > 0 ? ("ok, " + std::to_string(r.reorders)
                                       + " calls overtook the same caller's earlier ones")
                                        .c_str()
                                    : "ok")
                  : ("FAILED: " + std::to_string(r.failed_calls) + " failed, "
                     + std::to_string(r.order_errors) + " lost or doubled, "
                     + std::to_string(r.reorders) + " out of caller order")
                      .c_str());
    if (r.bytes_per_session > 0)
      std::printf("  %-*s %.0f bytes per idle session\n", w, "", r.bytes_per_session);
  }
  print_targets(ts);
}

} // namespace

int run(int argc, char** argv) {
  auto o = parse(argc, argv);
  std::map<std::string, std::function<std::vector<Result>(const Options&)>> scenarios{
    {"spread", spread}, {"hot", hot},         {"cold", cold},   {"blocking", blocking},
    {"latency", latency}, {"memory", memory}, {"churn", churn},  {"durable", durable},
    {"llm", llm},         {"retry", retry},   {"durable-pg", durable_pg}};
#ifdef AGENTRT_BENCH_HTTP
  scenarios.emplace("llm-http", llm_http);
#endif
  for (auto& s : o.scenarios)
    if (!scenarios.count(s)) {
      std::fprintf(stderr, "agentrt-bench: unknown scenario '%s'\n", s.c_str());
      return 2;
    }
  std::printf("agentrt-bench: %zu cores; agentrt workers %zu; ratios are agentrt / baseline\n",
              cores(), o.workers ? o.workers : cores());
  nlohmann::json doc;
  doc["cores"] = cores();
  bool all_verified = true;
  for (auto& name : o.scenarios) {
    auto rs = scenarios[name](o);
    auto ts = targets(name, rs);
    print(name, rs, ts);
    auto& js = doc["scenarios"][name];
    if (rs.empty())
      js["skipped"] = true;
    for (auto& r : rs) {
      all_verified = all_verified && r.verified();
      js["results"].push_back({{"system", r.system},
                               {"calls", r.calls},
                               {"seconds", r.seconds},
                               {"calls_per_s", r.per_second},
                               {"p50_us", r.p50_us},
                               {"p90_us", r.p90_us},
                               {"p99_us", r.p99_us},
                               {"max_us", r.max_us},
                               {"rss_bytes", r.rss},
                               {"bytes_per_session", r.bytes_per_session},
                               {"failed_calls", r.failed_calls},
                               {"order_errors", r.order_errors},
                               {"reorders", r.reorders},
                               {"verified", r.verified()},
                               {"extra", r.extra}});
    }
    for (auto& t : ts)
      js["targets"].push_back({{"target", t.text}, {"measured", t.measured}, {"met", t.met}, {"report", t.report}});
  }
  if (!o.json.empty()) {
    std::ofstream out{o.json};
    out << doc.dump(2) << "\n";
  }
  if (!all_verified) {
    std::fprintf(stderr, "agentrt-bench: exactly-once / order check FAILED\n");
    return 1;
  }
  return 0;
}

} // namespace bench

int main(int argc, char** argv) {
  return bench::run(argc, argv);
}
