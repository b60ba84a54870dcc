#pragma once

// The benchmark's scenarios by name (docs/BENCHMARKS.md describes each).

#include "harness.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bench {

using Scenario = std::function<std::vector<Result>(const Options&)>;

std::map<std::string, Scenario> scenarios();

} // namespace bench
