// agentrt-sse-load: opens N concurrent SSE streams against an agentrt-server stream route
// (or anything that writes its events), each for a session of its own, checks every stream
// (its own session id on each event, one call id, seq 1, 2, 3, ... with matching `id:`
// lines, ending with `completed`), and reports how long it all took, what the server
// process(es) used meanwhile, and how fast /health answered during the run.
//
//   agentrt-sse-load --url http://127.0.0.1:8080 --streams 10000 [--agent assistant]
//       [--method POST|GET] [--input TEXT] [--param NAME=VALUE]... [--connect-batch 1000] [--expect-events K]
//       [--server-pid PID[,PID...]] [--model-pid PID] [--health-url URL] [--json FILE]
//       [--threads 1] [--idle-timeout-ms 60000] [--token T] [--run-id ID]
//
// --server-pid counts each PID and all its descendants (a parent with workers). The
// CPU time of --model-pid (the model server behind the server) is reported apart, and what
// the machine spent on neither shows how far other work skewed the run.
//
// Exit status 0 only if every stream was whole and isolated and every health probe was
// answered 200; 1 otherwise; 2 for a bad command line or an unreachable server.
//
// Sustained calls instead (the HTTP side of bench/grpc/run.sh), each checked:
//
//   agentrt-sse-load --url URL --unary [--concurrency 64] [--sessions K] [--seconds 10]
//       [--calls N] [--agent echo-agent] [--input TEXT] [--param NAME=VALUE]...
//       [--timeout-ms 30000] [--server-pid PID] [--json FILE]
//   agentrt-sse-load --url URL --seconds S [--streams N] [--calls N] ...
//
// --unary keeps `--concurrency` POST /v1/agents/{agent}/invoke calls in flight, one per
// keep-alive connection, lane j's m-th call on session (j + m * concurrency) % sessions
// (sessions = concurrency unless given). --seconds (or --calls) without --unary keeps
// `--streams` POST .../stream streams in flight, each lane on a session of its own and a
// new connection per stream. Both stop after --seconds (10 with --unary) or once --calls
// calls have started, and report calls/s, chunks/s and latency as agentrt-grpc-load does
// (bench/http/load_calls.hpp, call_report.hpp). --agent is echo-agent unless given (its
// output is then checked word for word). Exit status 0 only if no call failed.

#include "health_probe.hpp"
#include "load_calls.hpp"
#include "load_streams.hpp"
#include "proc_stats.hpp"

#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

namespace {

using namespace sse_load;

struct Url {
  std::string host;
  std::string port = "80";
  std::string path; // may be empty
};

std::optional<Url> parse_url(std::string_view u) {
  constexpr std::string_view scheme = "http://";
  if (u.substr(0, scheme.size()) != scheme)
    return std::nullopt;
  u.remove_prefix(scheme.size());
  Url out;
  auto slash = u.find('/');
  auto authority = u.substr(0, slash);
  out.path = slash == std::string_view::npos ? "" : std::string{u.substr(slash)};
  auto colon = authority.rfind(':');
  out.host = std::string{authority.substr(0, colon)};
  if (colon != std::string_view::npos)
    out.port = std::string{authority.substr(colon + 1)};
  if (out.host.empty() || out.port.empty())
    return std::nullopt;
  return out;
}

struct Options {
  StreamSpec spec;
  Url url;
  std::optional<Url> health;
  std::vector<int> server_pids;
  std::vector<int> model_pids; // the model server behind it: its CPU is told apart
  std::string json_path;
  unsigned threads = 1;
  // Sustained calls (load_calls.hpp), when `sustained`.
  bool sustained = false;
  bool unary = false;
  std::size_t concurrency = 64;
  std::size_t sessions = 0; // 0: = concurrency
  std::optional<double> seconds;
  std::uint64_t calls = 0;
  std::chrono::milliseconds timeout{30'000};
  bool streams_given = false;
  bool agent_given = false;
};

[[noreturn]] void usage(int code) {
  std::fprintf(
      code ? stderr : stdout,
      "usage: agentrt-sse-load --url http://HOST:PORT [--streams N] [--agent NAME]\n"
      "         [--method POST|GET] [--input TEXT] [--param NAME=VALUE]... [--connect-batch N] [--expect-events K]\n"
      "         [--server-pid PID[,PID...]] [--model-pid PID] [--health-url URL]\n"
      "         [--json FILE] [--threads 1|2] [--idle-timeout-ms MS] [--token T] [--run-id ID]\n"
      "       agentrt-sse-load --url http://HOST:PORT --unary [--concurrency N] [--sessions K]\n"
      "         [--seconds S] [--calls N] [--timeout-ms MS] [--agent NAME] [--input TEXT] ...\n"
      "       agentrt-sse-load --url http://HOST:PORT --seconds S [--streams N] [--calls N] ...\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  std::string url = "http://127.0.0.1:8080";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(2);
      return argv[++i];
    };
    auto number = [&](long lo, long hi) {
      auto v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lo || n > hi)
        usage(2);
      return n;
    };
    if (a == "--url")
      url = value();
    else if (a == "--streams") {
      o.spec.streams = static_cast<std::size_t>(number(1, 1'000'000));
      o.streams_given = true;
    } else if (a == "--agent") {
      o.spec.agent = value();
      o.agent_given = true;
    } else if (a == "--unary")
      o.sustained = o.unary = true;
    else if (a == "--concurrency")
      o.concurrency = static_cast<std::size_t>(number(1, 100'000));
    else if (a == "--sessions")
      o.sessions = static_cast<std::size_t>(number(1, 10'000'000));
    else if (a == "--seconds") {
      auto v = value();
      char* end = nullptr;
      double s = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(s > 0) || s > 86'400)
        usage(2);
      o.seconds = s;
      o.sustained = true;
    } else if (a == "--calls") {
      o.calls = static_cast<std::uint64_t>(number(1, 1L << 40));
      o.sustained = true;
    } else if (a == "--timeout-ms")
      o.timeout = std::chrono::milliseconds(number(1, 86'400'000));
    else if (a == "--method") {
      auto m = value();
      if (m != "POST" && m != "GET")
        usage(2);
      o.spec.post = m == "POST";
    } else if (a == "--input")
      o.spec.input = value();
    else if (a == "--param") { // NAME=VALUE, for the turn's params; repeatable
      auto kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        usage(2);
      o.spec.params.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    else if (a == "--connect-batch")
      o.spec.connect_batch = static_cast<std::size_t>(number(1, 1'000'000));
    else if (a == "--expect-events")
      o.spec.expect_events = static_cast<std::uint64_t>(number(1, 1'000'000));
    else if (a == "--server-pid" || a == "--server-pids") {
      std::istringstream list{value()};
      for (std::string p; std::getline(list, p, ',');)
        if (!p.empty())
          o.server_pids.push_back(std::atoi(p.c_str()));
    } else if (a == "--model-pid") {
      o.model_pids.push_back(static_cast<int>(number(1, 1L << 30)));
    } else if (a == "--health-url") {
      o.health = parse_url(value());
      if (!o.health)
        usage(2);
    } else if (a == "--json")
      o.json_path = value();
    else if (a == "--threads")
      o.threads = static_cast<unsigned>(number(1, 64));
    else if (a == "--idle-timeout-ms")
      o.spec.idle_timeout = std::chrono::milliseconds(number(1, 86'400'000));
    else if (a == "--token")
      o.spec.token = value();
    else if (a == "--run-id")
      o.spec.run_id = value();
    else if (a == "--help" || a == "-h")
      usage(0);
    else
      usage(2);
  }
  auto u = parse_url(url);
  if (!u)
    usage(2);
  o.url = *u;
  while (!o.url.path.empty() && o.url.path.back() == '/')
    o.url.path.pop_back();
  o.spec.host = o.url.host + ":" + o.url.port;
  o.spec.path_prefix = o.url.path;
  if (o.spec.run_id.empty())
    o.spec.run_id = std::to_string(::getpid()) + "x"
                    + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()
                                     % 1'000'000'007);
  return o;
}

/// Raises the soft limit on open files to the hard one; returns the limit in force.
rlim_t raise_nofile() {
  rlimit l{};
  ::getrlimit(RLIMIT_NOFILE, &l);
  l.rlim_cur = l.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &l);
  ::getrlimit(RLIMIT_NOFILE, &l);
  return l.rlim_cur;
}

double cpu_seconds_self() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// Nearest-rank percentiles of `v` (sorted here), in its unit; all zero when it is empty.
nlohmann::json percentiles(std::vector<double> v) {
  if (v.empty())
    return {{"count", 0}, {"p50", 0.0}, {"p99", 0.0}, {"max", 0.0}};
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
  };
  return {{"count", v.size()}, {"p50", at(0.50)}, {"p99", at(0.99)}, {"max", v.back()}};
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

tcp::endpoint resolve(net::io_context& io, const Url& u) {
  tcp::resolver r{io};
  auto found = r.resolve(u.host, u.port);
  for (auto& e : found)
    if (e.endpoint().address().is_v4())
      return e.endpoint();
  return found.begin()->endpoint();
}

/// What the results say, as the JSON report.
nlohmann::json summarize(const Options& o, const Load& load) {
  std::size_t ok = 0;
  std::vector<double> first, headers, duration;
  std::uint64_t min_events = UINT64_MAX, max_events = 0, comments = 0;
  Clock::time_point begin = Clock::time_point::max(), end{};
  nlohmann::json failures = nlohmann::json::array();
  std::map<std::string, std::size_t> kinds;
  for (std::size_t i = 0; i < load.results().size(); ++i) {
    const auto& r = load.results()[i];
    begin = std::min(begin, r.start);
    end = std::max(end, r.end);
    min_events = std::min(min_events, r.events);
    max_events = std::max(max_events, r.events);
    comments += r.comments;
    if (r.headers)
      headers.push_back(ms(*r.headers - r.start));
    if (r.first_event)
      first.push_back(ms(*r.first_event - r.start));
    if (r.ok) {
      ++ok;
      duration.push_back(ms(r.end - r.start));
      continue;
    }
    ++kinds[r.error.substr(0, r.error.find(':'))];
    if (failures.size() < 20)
      failures.push_back({{"stream", i}, {"session_id", load.session_id(i)}, {"reason", r.error}});
  }
  auto n = load.results().size();
  return {{"url", "http://" + o.spec.host + o.spec.path_prefix},
          {"agent", o.spec.agent},
          {"method", o.spec.post ? "POST" : "GET"},
          {"run_id", o.spec.run_id},
          {"streams", n},
          {"ok", ok},
          {"failed", n - ok},
          {"failure_kinds", kinds},
          {"failures", failures},
          {"wall_s", ms(end - begin) / 1000.0},
          {"headers_ms", percentiles(headers)},
          {"first_event_ms", percentiles(first)},
          {"duration_ms", percentiles(duration)},
          {"events_per_stream", {{"min", n ? min_events : 0}, {"max", max_events}}},
          {"comments", comments}};
}

void print(const nlohmann::json& j) {
  auto pct = [](const nlohmann::json& p) {
    char b[128];
    std::snprintf(b, sizeof b, "p50 %9.1f   p99 %9.1f   max %9.1f", p["p50"].get<double>(),
                  p["p99"].get<double>(), p["max"].get<double>());
    return std::string{b};
  };
  std::printf("streams            %zu ok, %zu failed (of %zu, %s %s)\n", j["ok"].get<std::size_t>(),
              j["failed"].get<std::size_t>(), j["streams"].get<std::size_t>(),
              j["method"].get<std::string>().c_str(), j["url"].get<std::string>().c_str());
  for (auto& f : j["failures"]) {
    if (&f - &j["failures"][0] >= 5)
      break;
    std::printf("  failed           #%zu: %s\n", f["stream"].get<std::size_t>(),
                f["reason"].get<std::string>().c_str());
  }
  for (auto& [kind, count] : j["failure_kinds"].items())
    std::printf("  failure kind     %s: %zu\n", kind.c_str(), count.get<std::size_t>());
  std::printf("wall               %.3f s (first connect to last stream end)\n",
              j["wall_s"].get<double>());
  std::printf("headers ms         %s\n", pct(j["headers_ms"]).c_str());
  std::printf("first event ms     %s\n", pct(j["first_event_ms"]).c_str());
  std::printf("stream ms          %s\n", pct(j["duration_ms"]).c_str());
  std::printf("events per stream  %llu..%llu\n",
              static_cast<unsigned long long>(j["events_per_stream"]["min"].get<std::uint64_t>()),
              static_cast<unsigned long long>(j["events_per_stream"]["max"].get<std::uint64_t>()));
  if (j.contains("server")) {
    auto& s = j["server"];
    std::printf("server cpu         %.3f s (%.3f ms per stream)", s["cpu_s"].get<double>(),
                s["cpu_ms_per_stream"].get<double>());
    if (s["each"].size() > 1) {
      std::printf(", by process:");
      for (auto& p : s["each"])
        std::printf(" %.1f", p["cpu_s"].get<double>());
    }
    std::printf("\n");
    std::printf("server memory      peak RSS %.1f MB (VmHWM summed), most sampled RSS %.1f MB\n",
                s["peak_rss_mb"].get<double>(), s["max_sampled_rss_mb"].get<double>());
    std::printf("server threads     %llu at most\n",
                static_cast<unsigned long long>(s["max_threads"].get<std::uint64_t>()));
  }
  if (j.contains("health")) {
    auto& h = j["health"];
    std::printf("health ms          %s   (%zu probes, %llu failed%s%s)\n", pct(h).c_str(),
                h["count"].get<std::size_t>(),
                static_cast<unsigned long long>(h["failed"].get<std::uint64_t>()),
                h["first_failure"].get<std::string>().empty() ? "" : ": ",
                h["first_failure"].get<std::string>().c_str());
  }
  auto& m = j["machine"];
  std::printf("client cpu         %.3f s\n", j["client_cpu_s"].get<double>());
  if (m["model_cpu_s"].get<double>() > 0)
    std::printf("model server cpu   %.3f s\n", m["model_cpu_s"].get<double>());
  std::printf("machine cpu        %.3f s busy on %u cpus; other processes: %.3f s%s\n",
              m["busy_cpu_s"].get<double>(), m["cpus"].get<unsigned>(),
              m["other_cpu_s"].get<double>(), j.contains("server") ? "" : " (with the server)");
}

/// --unary, or streams kept in flight for --seconds: see the top of this file.
int run_sustained(const Options& o) {
  CallSpec spec;
  spec.host = o.spec.host;
  spec.path_prefix = o.spec.path_prefix;
  spec.agent = o.agent_given ? o.spec.agent : "echo-agent";
  spec.input = o.spec.input;
  spec.params = o.spec.params;
  spec.token = o.spec.token;
  spec.run_id = o.spec.run_id;
  spec.unary = o.unary;
  spec.lanes = o.unary ? o.concurrency : (o.streams_given ? o.spec.streams : 64);
  spec.sessions = o.unary ? (o.sessions ? o.sessions : spec.lanes) : spec.lanes;
  spec.seconds = o.seconds;
  if (!spec.seconds && o.calls == 0)
    spec.seconds = 10.0;
  spec.calls = o.calls;
  spec.timeout = o.timeout;
  if (raise_nofile() < spec.lanes + 64)
    std::fprintf(stderr, "agentrt-sse-load: warning: too few open files for %zu lanes\n",
                 spec.lanes);

  net::io_context io{static_cast<int>(o.threads)};
  tcp::endpoint at;
  try {
    at = resolve(io, o.url);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentrt-sse-load: cannot resolve: %s\n", e.what());
    return 2;
  }
  {
    // As agentrt-grpc-load waits for its channels: the server is up before the clock starts.
    tcp::socket probe{io};
    beast::error_code ec;
    probe.connect(at, ec);
    if (ec) {
      std::fprintf(stderr, "agentrt-sse-load: cannot connect: %s\n", ec.message().c_str());
      return 2;
    }
  }
  CallLoad load{io, spec, at};
  CostMeter cost{o.server_pids};
  cost.start();
  load.begin([] {});
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < o.threads; ++i)
    extra.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : extra)
    t.join();
  cost.finish();

  RunShape shape{"http", o.unary ? "unary" : "stream", "http://" + spec.host + spec.path_prefix,
                 spec.agent, spec.lanes, spec.lanes, spec.sessions};
  auto j = call_report(shape, load.tally(), load.seconds(), cost);
  j["run_id"] = spec.run_id;
  j["input"] = spec.input;
  j["client_threads"] = o.threads;
  print_call_report(stdout, j);
  if (!o.json_path.empty()) {
    std::ofstream out{o.json_path};
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "agentrt-sse-load: cannot write %s\n", o.json_path.c_str());
      return 1;
    }
  }
  return j["errors"].get<std::uint64_t>() == 0 && j["calls"].get<std::uint64_t>() > 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  if (o.sustained)
    return run_sustained(o);
  auto nofile = raise_nofile();
  if (nofile < o.spec.streams + 64)
    std::fprintf(stderr, "agentrt-sse-load: warning: %llu open files allowed for %zu streams\n",
                 static_cast<unsigned long long>(nofile), o.spec.streams);

  net::io_context io{static_cast<int>(o.threads)};
  tcp::endpoint at, health_at;
  try {
    at = resolve(io, o.url);
    if (o.health)
      health_at = resolve(io, *o.health);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentrt-sse-load: cannot resolve: %s\n", e.what());
    return 2;
  }

  Load load{io, o.spec, at};
  std::optional<HealthProbe> health;
  if (o.health)
    health.emplace(io, health_at, o.health->host + ":" + o.health->port,
                   o.health->path.empty() ? "/" : o.health->path, std::chrono::milliseconds(50));
  ProcTree server{o.server_pids};
  ProcTree model{o.model_pids};
  auto sampler_strand = net::make_strand(io);
  net::steady_timer sampler{sampler_strand};
  bool sampling = !server.empty();
  std::function<void()> sample = [&] {
    server.sample();
    sampler.expires_after(std::chrono::milliseconds(50));
    sampler.async_wait([&](beast::error_code ec) {
      if (!ec && sampling)
        sample();
    });
  };

  server.start();
  model.start();
  auto cpu0 = cpu_seconds_self();
  auto busy0 = machine_busy_seconds();
  load.begin([&] {
    if (health)
      health->stop();
    net::post(sampler_strand, [&] {
      sampling = false;
      sampler.cancel();
    });
  });
  if (health)
    health->start();
  if (sampling)
    net::post(sampler_strand, sample);

  std::vector<std::thread> extra;
  for (unsigned i = 1; i < o.threads; ++i)
    extra.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : extra)
    t.join();
  server.finish();
  model.finish();
  auto busy = machine_busy_seconds() - busy0;

  auto j = summarize(o, load);
  j["client_cpu_s"] = cpu_seconds_self() - cpu0;
  j["client_threads"] = o.threads;
  // What else ran on the machine meanwhile (another build, say) skews everything above.
  j["machine"] = {
      {"cpus", std::thread::hardware_concurrency()},
      {"busy_cpu_s", busy},
      {"model_cpu_s", model.cpu_seconds()},
      {"other_cpu_s", std::max(0.0, busy - j["client_cpu_s"].get<double>() - model.cpu_seconds()
                                        - (server.empty() ? 0.0 : server.cpu_seconds()))}};
  j["connect_batch"] = o.spec.connect_batch;
  if (!server.empty()) {
    auto n = static_cast<double>(o.spec.streams);
    auto each = nlohmann::json::array();
    for (auto& p : server.processes())
      each.push_back({{"pid", p.pid}, {"cpu_s", p.cpu_s}, {"peak_rss_mb", p.peak_rss_mb}});
    j["server"] = {{"pids", o.server_pids},
                   {"processes", server.processes().size()},
                   {"each", each},
                   {"cpu_s", server.cpu_seconds()},
                   {"cpu_ms_per_stream", server.cpu_seconds() * 1000.0 / n},
                   {"peak_rss_mb", server.peak_rss_mb()},
                   {"max_sampled_rss_mb", server.max_sampled_rss_mb()},
                   {"max_threads", server.max_threads()}};
  }
  bool healthy = true;
  if (health) {
    auto h = percentiles(health->latencies_ms());
    h["failed"] = health->failures();
    h["first_failure"] = health->first_failure();
    h["url"] = "http://" + o.health->host + ":" + o.health->port + o.health->path;
    j["health"] = h;
    healthy = health->failures() == 0;
  }
  print(j);
  if (!o.json_path.empty()) {
    std::ofstream out{o.json_path};
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "agentrt-sse-load: cannot write %s\n", o.json_path.c_str());
      return 1;
    }
  }
  return j["failed"].get<std::size_t>() == 0 && healthy ? 0 : 1;
}
