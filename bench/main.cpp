// agentrt-bench: concurrent-session workloads run through agentrt and through the designs a
// backend would otherwise write (a mutex-map on a thread pool, Asio strands) and through
// plain CAF actors (caf-raw, the framework's floor), in one process run, so every figure is
// also a ratio against them. Every system does the same per-turn work (Transcript).
//
//   agentrt-bench [--scenario NAME[,NAME...]|standard|all] [knobs] [--repeat N] [--quick]
//                 [--json FILE]
//
// Every scenario checks every system the same way: each call's turn number must be unique
// and consecutive within its session (exactly once), and one caller's calls to one session
// must run in the order it made them. A lost or doubled call fails the run; so does a
// reorder by a system that promises caller order (agentrt, strand, caf-raw). mutex-map does
// not (two pool threads can take a caller's calls in either order): its reorders are shown.

#include "harness.hpp"
#include "report.hpp"
#include "scenarios.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

int run(int argc, char** argv) {
  auto o = parse_options(argc, argv);
  auto all = scenarios();
  for (auto& s : o.scenarios)
    if (!all.count(s)) {
      std::fprintf(stderr, "agentrt-bench: unknown scenario '%s'\n", s.c_str());
      return 2;
    }
  std::printf("agentrt-bench: %zu cores; agentrt workers %zu%s%s\n", cores(),
              o.workers ? o.workers : cores(),
              o.repeat > 1 ? ("; median of " + std::to_string(o.repeat) + " runs").c_str() : "",
              o.quick ? "; quick: small sizes, checks only (figures not meaningful, targets not "
                        "judged)"
                      : "");
  nlohmann::json doc;
  doc["cores"] = cores();
  doc["repeat"] = o.repeat;
  doc["quick"] = o.quick;
  bool all_verified = true;
  for (auto& name : o.scenarios) {
    std::vector<std::vector<Result>> runs;
    for (std::size_t i = 0; i < o.repeat; ++i)
      runs.push_back(all[name](o));
    auto rs = o.repeat > 1 ? median_of(runs) : runs.front();
    auto ts = o.quick ? std::vector<Target>{} : targets(name, rs);
    print(name, rs, ts);
    for (auto& r : rs)
      all_verified = all_verified && r.verified();
    doc["scenarios"][name] = to_json(rs, ts);
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
