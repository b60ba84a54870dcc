// agentrt-bench's command line.

#include "harness.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

namespace {

void usage() {
  std::puts(
    "usage: agentrt-bench [options]\n"
    "  --scenario LIST   spread,hot,cold,blocking,latency,memory,churn,durable,retry,llm,\n"
#ifdef AGENTRT_BENCH_HTTP
    "                    llm-http,\n"
#endif
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
    "  --quick           small sizes for every scenario: checks exactly-once and order on every\n"
    "                    system in seconds; figures not meaningful, targets not judged\n"
    "  --repeat N        run each scenario N times; tables show the median run and the range\n"
    "  --postgres CONN   durable-pg: libpq conninfo of a database it may write to (default:\n"
    "                    env AGENTRT_BENCH_POSTGRES; neither: durable-pg is skipped)\n"
    "  --json FILE       write results as JSON");
}

} // namespace

Options parse_options(int argc, char** argv) {
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
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--repeat") {
      o.repeat = std::max<std::int64_t>(1, number(need(i)));
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

} // namespace bench
