#pragma once

// Services: what the actors use from the runtime that hosts them. Owned by the runtime (or
// a test fixture) and outliving every actor that points to it.

#include "actors/fwd.hpp"
#include "actors/messages.hpp"
#include "core/call_log.hpp"
#include "core/fwd.hpp"
#include "stores/fwd.hpp"

#include <agentrt/config.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::detail {


struct Services {
  RuntimeConfig config;
  /// What each session's CallLog keeps (from `config`).
  CallLog::Limits call_limits;
  std::shared_ptr<spdlog::logger> log;
  /// Runs blocking turns.
  Executor* executor = nullptr;
  /// Shared with every blocking job (see ResultGate).
  std::shared_ptr<ResultGate> gate;
  Metrics* metrics = nullptr;
  /// Null in tests that drive one session directly.
  SessionDirectory* directory = nullptr;
  /// Where sessions go when they expire and come back from (never null in a Runtime; null
  /// in tests of one actor that do not need one).
  GuardedStore* store = nullptr;
  /// Tools and sub-agents for turns; null in tests that drive one session directly. Blocking
  /// turns hold a reference, so it outlives a runtime that abandoned them.
  std::shared_ptr<TurnServices> turn_services;
  /// Empty in tests without supervision.
  std::vector<supervisor_actor> supervisors;

  /// The supervisor shard for a key hash; requires `supervisors` non-empty.
  const supervisor_actor& supervisor_for(std::size_t hash) const {
    return supervisors[(hash >> 8) % supervisors.size()];
  }
};

} // namespace agentrt::detail
