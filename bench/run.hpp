#pragma once

// How a scenario runs calls through a system and checks them: windowed async callers,
// exactly-once and caller-order checks, the systems each scenario compares.

#include "agentrt_system.hpp"
#include "harness.hpp"
#include "system.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bench {

/// Exactly once, in order: per session, the turn numbers seen must be exactly
/// first, first+1, ..., first+k-1 where first is 1 + the session's warm-up calls.
std::size_t order_errors(const std::vector<std::size_t>& session_of,
                         const std::vector<std::uint64_t>& turns, std::uint64_t warm);

/// Per-caller order: caller t submitted indices t, t+threads, ... in that order; within one
/// session, their turn numbers must increase.
std::size_t reorders(const std::vector<std::size_t>& session_of,
                     const std::vector<std::uint64_t>& turns, std::size_t threads);

/// Session `s`'s id; `prefix` keeps runs against a shared database apart.
std::string key(std::size_t s, const std::string& prefix = "");

/// Runs `calls` async calls over `session_of` with `threads` submitters and a window.
Result run_async(System& sys, const std::string& scenario, const std::vector<std::size_t>& session_of,
                 std::size_t window, std::size_t threads, std::uint64_t warm,
                 const std::string& prefix = "");

/// One call per session, `window` outstanding, to create (warm) them.
void warm_up(System& sys, std::size_t sessions, std::size_t window, const std::string& prefix = "");

using Factory = std::function<std::unique_ptr<System>()>;

/// The systems a scenario compares: agentrt, then (unless --no-baselines) mutex-map, strand
/// and, for work that does not block, caf-raw.
std::vector<std::pair<std::string, Factory>> systems(const Options& o, Work work, bool blocking,
                                                     std::size_t pool, AgentrtOptions ao = {});

/// `calls` calls spread over `sessions` sessions in turn.
std::vector<std::size_t> round_robin(std::size_t calls, std::size_t sessions);

/// agentrt with the run's workers and scheduler.
AgentrtOptions agentrt_options(const Options& o);

/// A scenario's parameters, as the table prints them and the JSON records them.
nlohmann::json workload(std::size_t sessions, std::size_t calls, std::size_t window,
                        std::size_t callers, const Work& work);

} // namespace bench
