#pragma once

// The `llm` scenario: every session runs one turn that waits on a simulated model
// streaming tokens on timers, all started at once (see llm.cpp).

#include "harness.hpp"

#include <vector>

namespace bench {

/// Runs the scenario for agentrt's coroutine and blocking turns and the two baselines,
/// each system in its own process.
std::vector<Result> llm(const Options& o);

} // namespace bench
