#pragma once

// The supervisor shard: owns the lifecycle of the sessions whose key hashes to it. It
// watches them (monitor + down handler), expires the idle and the old, and keeps the live
// count under `max_sessions` by expiring the least recently used idle session.
//
// It learns of activity without a message per turn: each session publishes its last
// activity and busy flag (Activity); the shard keeps a min-heap of last-activity times it
// has seen and, when it pops one, compares with the published value. A changed value is
// pushed back with the new time, so the heap only ever holds times at or before the real
// ones, and the first unchanged entry popped is the true least recently used session.
//
// Expiry asks the session; the session decides (it alone knows whether a call is on its
// way) and retires itself from the SessionDirectory, then stops.

#include "actors/fwd.hpp"
#include "actors/messages.hpp"

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

namespace agentrt::detail {


struct SupervisorState {
  static inline const char* name = "agentrt.supervisor";

  struct Entry {
    session_actor session;
    ActivityPtr activity;
    std::int64_t created = 0;
    /// Asked to expire for the cap and not seen active since: not asked again.
    bool evicting = false;
  };

  /// (time in ns, actor id)
  using Mark = std::pair<std::int64_t, caf::actor_id>;

  Services* svc = nullptr;
  std::unordered_map<caf::actor_id, Entry> sessions;
  /// Last activity as last seen, oldest first (lazily corrected, see above).
  std::priority_queue<Mark, std::vector<Mark>, std::greater<>> by_activity;
  /// Creation order; sessions are adopted in creation order, so a FIFO suffices.
  std::deque<Mark> by_age;
  /// Past max_lifetime but busy when asked: asked again every sweep.
  std::vector<caf::actor_id> overdue;
  /// This shard also removes stored sessions past max_lifetime (shard 0 does).
  bool sweeps_store = false;
  std::int64_t next_store_sweep = 0;
  /// Sessions asked to expire for the cap that have not ended yet.
  std::int64_t evictions_pending = 0;
  bool sweep_armed = false;
};

using supervisor_pointer = supervisor_actor::stateful_pointer<SupervisorState>;

/// `sweeps_store`: this shard also erases stored sessions past max_lifetime (one shard
/// should, so the store is swept once).
supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self, Services* svc,
                                                    bool sweeps_store);

} // namespace agentrt::detail
