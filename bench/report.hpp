#pragma once

// What agentrt-bench prints and writes for each scenario.

#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bench {

/// A scenario's target (or, with `report`, a figure reported beside them).
struct Target {
  std::string text;
  bool met;
  std::string measured;
  bool report = false; // a figure to report, not a target
};

/// The scenario's targets, judged on its results.
std::vector<Target> targets(const std::string& scenario, const std::vector<Result>& rs);

/// Prints the scenario's table (workload, figures, ratios against agentrt, checks) and
/// targets.
void print(const std::string& scenario, const std::vector<Result>& rs, const std::vector<Target>& ts);

/// The scenario as JSON: its workload, each system's result, its targets.
nlohmann::json to_json(const std::vector<Result>& rs, const std::vector<Target>& ts);

/// Per system, the median of repeated runs (by calls/s; memory: by bytes per session), with
/// every run's calls/s and p50 kept, and every run's failures counted.
std::vector<Result> median_of(const std::vector<std::vector<Result>>& runs);

} // namespace bench
