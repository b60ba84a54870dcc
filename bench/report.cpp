// What agentrt-bench prints and writes: each scenario's table, its targets, its JSON, and
// the median of repeated runs.

#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace bench {

namespace {

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
  auto workers = a->workload.value("workers", std::size_t{0});
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

} // namespace

std::vector<Target> targets(const std::string& scenario, const std::vector<Result>& rs) {
  std::vector<Target> t;
  if (scenario == "llm")
    return llm_targets(rs);
  if (scenario == "durable-pg")
    return durable_pg_targets(rs);
  auto a = find(rs, "agentrt");
  if (!a)
    return t;
  // agentrt's calls/s against `system`'s, as a target (>= `at_least`) when it ran.
  auto against = [&](const char* system, double at_least, const char* text, bool report = false) {
    if (auto b = find(rs, system); b && b->per_second > 0) {
      double x = a->per_second / b->per_second;
      t.push_back({text, x >= at_least, fmt("%.2fx", x), report});
    }
  };
  if (scenario == "spread") {
    t.push_back({"calls/s", true, fmt("%.2f M/s", a->per_second / 1e6), true});
    against("strand", 1.0, ">= 1.0x strand");
    against("caf-raw", 0.8, ">= 0.8x caf-raw");
    against("mutex-map", 1.0, ">= 1.0x mutex-map (moonshot)");
  } else if (scenario == "hot") {
    double limit = a->extra.value("serial_limit_per_s", 0.0);
    t.push_back({">= 0.95x serial limit", a->per_second >= 0.95 * limit,
                 fmt("%.2fx", a->per_second / limit)});
    against("mutex-map", 1.0, "against mutex-map", true);
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
    against("strand", 1.0, ">= 1.0x strand");
    against("caf-raw", 0.0, "against caf-raw", true);
  } else if (scenario == "blocking") {
    double limit = a->extra.value("pool_limit_per_s", 0.0);
    t.push_back({">= 0.9x pool limit", a->per_second >= 0.9 * limit,
                 fmt("%.2fx", a->per_second / limit)});
  } else if (scenario == "latency") {
    t.push_back({"p50 <= 15 us", a->p50_us <= 15, fmt("%.1f us", a->p50_us)});
    t.push_back({"p99 <= 250 us", a->p99_us <= 250, fmt("%.1f us", a->p99_us)});
  } else if (scenario == "memory") {
    t.push_back({"<= 1.6 KB per live idle session", a->bytes_per_session <= 1600,
                 fmt("%.0f B", a->bytes_per_session)});
    if (auto p = find(rs, "agentrt passivated"); p && p->verified())
      t.push_back({"<= 400 B per passivated session", p->bytes_per_session <= 400,
                   fmt("%.0f B", p->bytes_per_session)});
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

namespace {

void print_targets(const std::vector<Target>& ts) {
  for (auto& t : ts)
    std::printf("  target %-32s %-12s %s\n", t.text.c_str(), t.measured.c_str(),
                t.report ? "(report)" : t.met ? "met" : "MISSED");
}

void print_llm(const std::string& scenario, const std::vector<Result>& rs,
               const std::vector<Target>& ts) {
  if (rs.empty() || rs.front().extra.empty())
    return;
  auto& w = rs.front().workload;
  std::printf("\n%s: %zu sessions at once, each a turn awaiting %d tokens %d ms apart (ideal %.2f s)\n",
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

/// What the run checked, in words: ok, or what failed.
std::string checked(const Result& r) {
  if (!r.verified())
    return "FAILED: " + std::to_string(r.failed_calls) + " failed, " + std::to_string(r.order_errors)
           + " lost or doubled, " + std::to_string(r.reorders) + " out of caller order";
  if (r.reorders > 0)
    return "ok, " + std::to_string(r.reorders) + " calls overtook the same caller's earlier ones";
  return "ok";
}

/// The workload in one line: "10000 sessions, 2000000 calls, window 1000, 1 caller, ...".
std::string describe(const nlohmann::json& w) {
  std::string out;
  for (auto& [k, v] : w.items()) {
    if (v.is_number() && v.get<double>() == 0 && (k == "spin_ns" || k == "sleep_ms"))
      continue; // no work of that kind
    out += (out.empty() ? "" : ", ") + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

/// (max - min) / median of a system's runs' calls/s, as "+-N%", or "-" for one run.
std::string spread_of(const Result& r) {
  if (r.runs_per_second.size() < 2 || r.per_second <= 0)
    return "-";
  auto [lo, hi] = std::minmax_element(r.runs_per_second.begin(), r.runs_per_second.end());
  return fmt("%.0f%%", 100.0 * (*hi - *lo) / r.per_second);
}

} // namespace

void print(const std::string& scenario, const std::vector<Result>& rs,
           const std::vector<Target>& ts) {
  if (scenario.rfind("llm", 0) == 0)
    return print_llm(scenario, rs, ts);
  if (rs.empty()) // skipped (it said why)
    return;
  int w = 15; // the system column: as wide as its longest name
  for (auto& r : rs)
    w = std::max(w, static_cast<int>(r.system.size()));
  std::printf("\n%s: %s\n", scenario.c_str(), describe(rs.front().workload).c_str());
  std::printf("  %-*s %9s %7s %11s %6s %8s %8s %8s %9s %8s %7s %7s %s\n", w, "system", "calls",
              "secs", "calls/s", "range", "p50 us", "p90 us", "p99 us", "max us", "RSS MB",
              "tput x", "p50 x", "checked");
  auto a = find(rs, "agentrt");
  for (auto& r : rs) {
    bool other = a && &r != a && r.per_second > 0;
    std::printf("  %-*s %9zu %7.2f %11.0f %6s %8.1f %8.1f %8.1f %9.1f %8.1f %7s %7s %s\n", w,
                r.system.c_str(), r.calls, r.seconds, r.per_second, spread_of(r).c_str(), r.p50_us,
                r.p90_us, r.p99_us, r.max_us, r.rss / 1048576.0,
                other ? fmt("%.2fx", a->per_second / r.per_second).c_str() : "-",
                other && a->p50_us > 0 ? fmt("%.2fx", r.p50_us / a->p50_us).c_str() : "-",
                checked(r).c_str());
    if (r.bytes_per_session > 0)
      std::printf("  %-*s %.0f bytes per session\n", w, "", r.bytes_per_session);
  }
  std::printf("  tput x = agentrt's calls/s / the system's; p50 x = the system's p50 / agentrt's "
              "(both > 1: agentrt ahead)%s\n",
              rs.front().runs_per_second.size() > 1 ? "; range = (max - min) / median calls/s" : "");
  print_targets(ts);
}

nlohmann::json to_json(const std::vector<Result>& rs, const std::vector<Target>& ts) {
  nlohmann::json js = nlohmann::json::object();
  if (rs.empty())
    js["skipped"] = true;
  else
    js["workload"] = rs.front().workload;
  for (auto& r : rs) {
    nlohmann::json one{{"system", r.system},
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
                       {"extra", r.extra}};
    if (r.runs_per_second.size() > 1) {
      one["runs_calls_per_s"] = r.runs_per_second;
      one["runs_p50_us"] = r.runs_p50_us;
    }
    js["results"].push_back(one);
  }
  for (auto& t : ts)
    js["targets"].push_back(
      {{"target", t.text}, {"measured", t.measured}, {"met", t.met}, {"report", t.report}});
  return js;
}

std::vector<Result> median_of(const std::vector<std::vector<Result>>& runs) {
  if (runs.empty())
    return {};
  // Which figure orders the runs: memory's is bytes per session, the llm scenarios' the wall
  // time (kept in calls/s too), every other scenario's calls/s.
  auto figure = [](const Result& r) {
    return r.scenario == "memory" ? r.bytes_per_session : r.per_second;
  };
  std::vector<Result> out;
  for (std::size_t k = 0; k < runs.front().size(); ++k) {
    std::vector<const Result*> same; // system k in every run, in run order
    for (auto& run : runs)
      for (auto& r : run)
        if (r.system == runs.front()[k].system)
          same.push_back(&r);
    std::vector<double> per_second, p50;
    for (auto* r : same) {
      per_second.push_back(r->per_second);
      p50.push_back(r->p50_us);
    }
    std::sort(same.begin(), same.end(),
              [&](const Result* x, const Result* y) { return figure(*x) < figure(*y); });
    Result m = *same[same.size() / 2];
    auto own_reorders = m.reorders;
    m.failed_calls = m.order_errors = m.reorders = 0;
    for (auto* r : same) { // a failure in any run is a failure of the whole
      m.failed_calls += r->failed_calls;
      m.order_errors += r->order_errors;
      m.reorders += r->reorders;
    }
    m.runs_per_second = std::move(per_second);
    m.runs_p50_us = std::move(p50);
    if (!m.keeps_order) // shown, not a failure: the median run's own
      m.reorders = own_reorders;
    out.push_back(std::move(m));
  }
  return out;
}

} // namespace bench
