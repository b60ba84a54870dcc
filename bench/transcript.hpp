#pragma once

// The per-turn work every system in the benchmark does, so its ratios compare runtimes and not
// workloads: agentrt appends a turn's input and output to the session's history and bumps its
// turn counter, and so does every baseline, through this.

#include <agentrt/history.hpp>

#include <cstdint>
#include <string>

namespace bench {

/// What every benchmark call sends and every turn answers (short: no allocation to copy).
inline const std::string turn_input = "ping";
inline const std::string turn_output = "pong";

/// A baseline session's history and turn counter, touched by one turn at a time.
struct Transcript {
  agentrt::History history;
  std::uint64_t turns = 0;

  /// Records one turn (input, then output); returns its number, 1 for the first.
  std::uint64_t record(const std::string& input, const std::string& output) {
    history.push_back({agentrt::Role::user, input, {}});
    history.push_back({agentrt::Role::assistant, output, {}});
    return ++turns;
  }
};

} // namespace bench
