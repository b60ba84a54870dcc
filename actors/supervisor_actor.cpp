#include "actors/supervisor_actor.hpp"

#include "actors/services.hpp"
#include "actors/session_directory.hpp"
#include "core/metrics.hpp"

#include "stores/guarded_store.hpp"

#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace agentrt::detail {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

std::int64_t ns(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

std::int64_t now_ns(supervisor_pointer self) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

void arm_sweep(supervisor_pointer self) {
  auto& st = self->state;
  // The shard that sweeps the store keeps its timer even with no live session of its own.
  if (st.sweep_armed || (st.sessions.empty() && !st.sweeps_store))
    return;
  st.sweep_armed = true;
  self->delayed_send(self, st.svc->config.expiry_interval, sweep_atom::value);
}

void ask_to_expire(supervisor_pointer self, const SupervisorState::Entry& e,
                   std::int64_t observed, ExpireReason why) {
  self->send(e.session, expire_atom::value, observed, static_cast<std::uint8_t>(why));
}

/// Asks every session idle past idle_timeout to expire.
void expire_idle(supervisor_pointer self, std::int64_t now) {
  auto& st = self->state;
  auto idle = ns(st.svc->config.idle_timeout);
  std::vector<SupervisorState::Mark> keep;
  while (!st.by_activity.empty() && st.by_activity.top().first + idle <= now) {
    auto [seen, id] = st.by_activity.top();
    st.by_activity.pop();
    auto i = st.sessions.find(id);
    if (i == st.sessions.end())
      continue; // gone
    auto real = i->second.activity->last_active.load(relaxed);
    if (real != seen) {
      st.by_activity.emplace(real, id);
      continue;
    }
    if (!i->second.activity->busy.load(relaxed))
      ask_to_expire(self, i->second, real, ExpireReason::idle);
    // Kept until its down message: the session may decline (a call was arriving).
    keep.emplace_back(seen, id);
  }
  for (auto& m : keep)
    st.by_activity.push(m);
}

/// Asks every session older than max_lifetime to end (it will once idle).
void expire_old(supervisor_pointer self, std::int64_t now) {
  auto& st = self->state;
  auto lifetime = ns(st.svc->config.max_lifetime);
  while (!st.by_age.empty() && st.by_age.front().first + lifetime <= now) {
    st.overdue.push_back(st.by_age.front().second);
    st.by_age.pop_front();
  }
  auto gone = [&](caf::actor_id id) { return st.sessions.count(id) == 0; };
  st.overdue.erase(std::remove_if(st.overdue.begin(), st.overdue.end(), gone),
                   st.overdue.end());
  for (auto id : st.overdue)
    ask_to_expire(self, st.sessions[id], 0, ExpireReason::lifetime);
}

/// Asks this shard's least recently used idle session to expire. False if all are busy.
bool evict_one(supervisor_pointer self) {
  auto& st = self->state;
  std::vector<SupervisorState::Mark> keep;
  bool asked = false;
  while (!st.by_activity.empty()) {
    auto [seen, id] = st.by_activity.top();
    st.by_activity.pop();
    auto i = st.sessions.find(id);
    if (i == st.sessions.end())
      continue;
    auto real = i->second.activity->last_active.load(relaxed);
    if (real != seen) {
      if (i->second.evicting) { // it declined (a call came in): a candidate again later
        i->second.evicting = false;
        st.evictions_pending -= 1;
      }
      st.by_activity.emplace(real, id);
      continue;
    }
    keep.emplace_back(seen, id);
    if (i->second.evicting || i->second.activity->busy.load(relaxed))
      continue;
    i->second.evicting = true;
    st.evictions_pending += 1;
    ask_to_expire(self, i->second, real, ExpireReason::cap);
    asked = true;
    break;
  }
  for (auto& m : keep)
    st.by_activity.push(m);
  return asked;
}

/// True when live sessions, less those this shard already asked to make room, exceed the
/// cap (so a sweep and an evict request for the same excess do not both expire one).
bool over_cap(const SupervisorState& st) {
  auto cap = st.svc->config.max_sessions;
  auto live = st.svc->metrics->live.load(relaxed) - st.evictions_pending;
  return cap && live > static_cast<std::int64_t>(*cap);
}

/// Erases stored sessions past max_lifetime that no live session holds, at most once a
/// minute. Each erase runs under the directory's lock with no entry for the key, so no
/// session for it can start (and load) while it is being erased.
void sweep_store(supervisor_pointer self, std::int64_t now) {
  auto& st = self->state;
  if (!st.sweeps_store || !st.svc->store || now < st.next_store_sweep)
    return;
  auto& cfg = st.svc->config;
  st.next_store_sweep = now + std::min(ns(cfg.max_lifetime), ns(std::chrono::minutes(1)));
  auto wall = std::chrono::system_clock::now();
  auto old = st.svc->store->expired(wall - cfg.max_lifetime, wall - cfg.idle_timeout);
  if (!old) {
    st.svc->log->warn("[-/-] could not list old sessions in the store: {}",
                      old.error().message);
    return;
  }
  std::size_t erased = 0;
  for (auto& key : *old) {
    bool ok = false;
    auto erase = [&] { ok = st.svc->store->erase(key).has_value(); };
    if (st.svc->directory)
      st.svc->directory->run_if_absent(key, key_hash(key.agent, key.session_id), erase);
    else
      erase();
    erased += ok;
  }
  if (erased > 0)
    st.svc->log->info("[-/-] removed {} stored sessions past max_lifetime", erased);
}

} // namespace

supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self, Services* svc,
                                                    bool sweeps_store) {
  self->state.svc = svc;
  self->state.sweeps_store = sweeps_store;
  arm_sweep(self);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.sessions.find(dm.source.id());
    if (i == st.sessions.end())
      return;
    if (i->second.evicting)
      st.evictions_pending -= 1;
    st.sessions.erase(i);
    // The indexes drop ended sessions lazily; compact them when they hold mostly those,
    // so a stream of one-shot sessions cannot grow them for a whole max_lifetime.
    auto gone = [&](const SupervisorState::Mark& m) { return st.sessions.count(m.second) == 0; };
    auto limit = 2 * st.sessions.size() + 64;
    if (st.by_age.size() > limit)
      st.by_age.erase(std::remove_if(st.by_age.begin(), st.by_age.end(), gone), st.by_age.end());
    if (st.by_activity.size() > limit) {
      std::vector<SupervisorState::Mark> live;
      for (; !st.by_activity.empty(); st.by_activity.pop())
        if (!gone(st.by_activity.top()))
          live.push_back(st.by_activity.top());
      st.by_activity = decltype(st.by_activity){std::greater<>{}, std::move(live)};
    }
  });
  return {
    [self](adopt_atom, const session_actor& session, const ActivityPtr& activity) {
      auto& st = self->state;
      auto id = session.id();
      auto now = now_ns(self);
      self->monitor(session);
      st.sessions.emplace(id, SupervisorState::Entry{session, activity, now});
      st.by_activity.emplace(activity->last_active.load(relaxed), id);
      st.by_age.emplace_back(now, id);
      arm_sweep(self);
    },
    [self](sweep_atom) {
      auto& st = self->state;
      st.sweep_armed = false;
      auto now = now_ns(self);
      st.svc->log->trace("[-/-] sweep: {} sessions, {} evictions pending", st.sessions.size(),
                         st.evictions_pending);
      expire_idle(self, now);
      expire_old(self, now);
      sweep_store(self, now);
      if (over_cap(st))
        evict_one(self);
      arm_sweep(self);
    },
    [self](declined_atom, caf::actor_id id) {
      auto& st = self->state;
      if (auto i = st.sessions.find(id); i != st.sessions.end() && i->second.evicting) {
        i->second.evicting = false; // a candidate again at the next sweep
        st.evictions_pending -= 1;
      }
    },
    [self](evict_atom) {
      if (over_cap(self->state) && !evict_one(self))
        self->state.svc->log->warn("[-/-] max_sessions ({}) exceeded and every session of "
                                   "this shard is busy; evicting later",
                                   *self->state.svc->config.max_sessions);
    },
  };
}

} // namespace agentrt::detail
