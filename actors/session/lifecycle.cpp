// A session's lifecycle: its stored context comes back on the first call; it expires
// (handing its context to a passivating store), is reset past its lifetime, closed, or
// drained at shutdown; a one-shot session ends once idle.

#include "actors/session/steps.hpp"

#include "actors/services.hpp"
#include "actors/session_directory.hpp"
#include "core/metrics.hpp"

#include "stores/guarded_store.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

namespace agentrt::detail {

namespace {

/// Leaves the directory if `pred` holds under its lock (see SessionDirectory::retire).
template <class Pred>
bool leave_directory(session_pointer self, Pred&& pred) {
  auto& st = self->state;
  return st.svc->directory
           ? st.svc->directory->retire(st.data->key, st.hash, self->address(), pred)
           : pred();
}

/// An empty conversation for the same session (its key, agent and kind kept).
std::shared_ptr<SessionData> fresh_data(const SessionData& old) {
  auto fresh = std::make_shared<SessionData>();
  fresh->key = old.key;
  fresh->entry = old.entry;
  fresh->one_shot = old.one_shot;
  fresh->ephemeral = old.ephemeral;
  return fresh;
}

/// True if the session is kept in the store.
bool stored(const SessionState& st) {
  return st.svc->store && !st.data->ephemeral;
}

/// True if what the session holds may be stale: it was loaded from a leasing store whose
/// lease this node no longer holds.
bool lease_lapsed(const SessionState& st) {
  return st.loaded && stored(st) && !st.svc->store->holds(st.data->key);
}

/// Lifetime expiry of a live session: its stored context is erased here, on the session's
/// own thread and outside the directory's lock (a durable store's erase can wait for its
/// writer), and the session starts afresh in memory; it then leaves like an idle session.
/// A call that arrived meanwhile is served by the fresh session. False if the erase failed
/// (the session keeps its context; the supervisor asks again at the next sweep).
bool reset_for_lifetime(session_pointer self) {
  auto& st = self->state;
  auto& key = st.data->key;
  if (auto* store = st.svc->store; store && !st.data->ephemeral) {
    if (auto r = store->erase(key); !r) {
      st.svc->log->warn("[{}/-] could not erase the session past its lifetime: {}",
                        key.session_id, r.error().message);
      return false;
    }
  }
  st.data = fresh_data(*st.data);
  st.loaded = true; // the store holds nothing for the key any more
  st.born = now_ns(self);
  return true;
}

/// The supervisor counts a session's age from the actor's spawn. The conversation may be
/// older (it was passivated and came back: its stored `created` says so) or younger (it was
/// reset for its lifetime and served on): the session judges by its own age.
bool past_lifetime(session_pointer self) {
  auto& st = self->state;
  auto lifetime = st.svc->config.max_lifetime;
  return now_ns(self) - st.born >= to_ns(lifetime)
         || std::chrono::system_clock::now() - st.data->created >= lifetime;
}

const char* reason_text(ExpireReason why) {
  switch (why) {
    case ExpireReason::idle: return "idle";
    case ExpireReason::lifetime: return "max lifetime";
    case ExpireReason::cap: return "max sessions";
  }
  return "unknown";
}

/// Expires the session if it is idle and unchanged since the supervisor looked. True if
/// it ended.
bool try_expire(session_pointer self, std::int64_t observed, ExpireReason why) {
  auto& st = self->state;
  if (st.mode != SessionState::Mode::open || st.running || !st.queue.empty())
    return false;
  bool fresh = why == ExpireReason::lifetime;
  if (fresh) {
    if (!past_lifetime(self) || !reset_for_lifetime(self))
      return false;
  } else if (st.activity->last_active.load(relaxed) != observed) {
    return false; // used since the supervisor looked
  }
  // Under the directory's lock, only with an empty mailbox: hand the session over in the
  // same step as leaving the directory, so the next call's new session finds exactly what
  // this one left. A session reset for its lifetime is fresh: nothing to hand over.
  if (!leave_directory(self, [&] { return self->mailbox().empty() && (fresh || passivate(self)); }))
    return false;
  st.svc->metrics->expirations.fetch_add(1, relaxed);
  st.svc->log->debug("[{}/-] session expired ({})", st.data->key.session_id, reason_text(why));
  self->quit();
  return true;
}

} // namespace

bool ensure_loaded(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  // A lease that lapsed here (another node may serve the session now): an idle session
  // claims it again before a turn. A busy one finds out at its commit, which is fenced.
  if (lease_lapsed(st) && !st.running && st.queue.empty()) {
    st.svc->log->debug("[{}/{}] this node's lease lapsed: the session loads again",
                       st.data->key.session_id, c->id);
    drop_stale(self);
  }
  auto loaded = load_stored(self, c->id);
  if (!loaded) // the next call tries again
    c->end(static_cast<errc>(loaded.error().code.value()), loaded.error().message);
  return static_cast<bool>(loaded);
}

void drop_stale(session_pointer self) {
  auto& st = self->state;
  st.data = fresh_data(*st.data);
  st.calls = CallLog{&st.svc->call_limits};
  st.loaded = false;
}

Result<void> load_stored(session_pointer self, std::uint64_t call_id) {
  auto& st = self->state;
  if (st.loaded)
    return {};
  if (stored(st)) {
    auto loaded = st.svc->store->load(st.data->key);
    if (!loaded && loaded.error().code == errc::session_elsewhere)
      return std::move(loaded).error();
    if (!loaded)
      return Error{errc::store_failed,
                   "the session store could not load the session: " + loaded.error().message};
    if (auto& stored = *loaded) {
      auto& d = *st.data;
      d.history = std::move(stored->history);
      d.state = std::move(stored->state);
      d.turns = stored->turns;
      d.created = stored->created;
      st.calls.restore(stored->requests, std::chrono::system_clock::now());
      st.svc->log->debug("[{}/{}] session restored from the store: {} turns", d.key.session_id,
                         call_id, d.turns);
    }
  }
  st.loaded = true;
  return {};
}

namespace {

/// A read of a session whose conversation is not here (not yet loaded, or dropped when its
/// lease lapsed) on a durable store: answered from the stored copy, which reading does not
/// claim, so a read never moves a session between nodes.
void read_stored(session_pointer self, const ConversationReadPtr& read) {
  auto& st = self->state;
  auto stored = st.svc->store->read(st.data->key);
  if (!stored)
    read->answer.set_value(Error{errc::store_failed, "the session store could not read the "
                                                     "session: " + stored.error().message});
  else if (auto& s = *stored)
    read->answer.set_value(read_from(read->spec, s->history, s->turns, s->state));
  else
    read->answer.set_value(read_from(read->spec, {}, 0, {}));
}

} // namespace

void on_read(session_pointer self, const ConversationReadPtr& read) {
  auto& st = self->state;
  if (lease_lapsed(st) && !st.running && st.queue.empty())
    drop_stale(self);
  if (!st.loaded && stored(st) && st.svc->store->durable()) {
    read_stored(self, read);
    end_one_shot(self);
    return;
  }
  auto loaded = load_stored(self, 0);
  if (!loaded)
    read->answer.set_value(std::move(loaded).error());
  else
    read->answer.set_value(read_from(read->spec, st.data->history, st.data->turns, st.data->state));
  end_one_shot(self); // a read may have kept an idle one-shot session alive
}

/// A write-through store has every turn already: a leasing one lets the lease go, so another
/// node may serve the session at once. Moves the data out (copies it while an
/// abandoned blocking turn may still read it); if the store refuses, the data is moved back.
bool passivate(session_pointer self) {
  auto& st = self->state;
  auto* store = st.svc->store;
  if (!stored(st) || !st.loaded)
    return true;
  if (store->durable()) { // every turn is stored: only the lease (if any) is let go
    store->release(st.data->key);
    return true;
  }
  auto& d = *st.data;
  StoredSession s;
  s.key = d.key;
  bool moved = !st.running;
  if (moved) {
    s.history = std::move(d.history);
    s.state = std::move(d.state);
  } else {
    s.history = d.history;
    s.state = d.state;
  }
  s.turns = d.turns;
  s.created = d.created;
  s.last_activity = std::chrono::system_clock::now();
  s.requests = st.calls.committed();
  if (auto r = store->put(s); !r) {
    st.svc->log->warn("[{}/-] could not hand the session to the store: {}", d.key.session_id,
                      r.error().message);
    if (moved) {
      d.history = std::move(s.history);
      d.state = std::move(s.state);
    }
    return false;
  }
  return true;
}

/// A one-shot session's context is never used again (its id named one call): it ends as
/// soon as it is idle, handing nothing to the store, instead of waiting for idle_timeout
/// and then sitting in the store until max_lifetime. A call for its id that is already in
/// the mailbox keeps it alive; a later one starts afresh.
void end_one_shot(session_pointer self) {
  auto& st = self->state;
  if (!st.data->one_shot || st.running || !st.queue.empty()
      || st.mode != SessionState::Mode::open)
    return;
  if (!leave_directory(self, [self] { return self->mailbox().empty(); }))
    return;
  self->state.svc->log->debug("[{}/-] one-shot session ended",
                              self->state.data->key.session_id);
  self->quit();
}

void after_turn(session_pointer self) {
  auto& st = self->state;
  if (st.mode == SessionState::Mode::open) {
    next(self);
    return;
  }
  update_busy(st);
  if (st.mode == SessionState::Mode::draining)
    passivate(self);
  self->quit();
}

void on_expire(session_pointer self, std::int64_t observed, ExpireReason why) {
  if (try_expire(self, observed, why))
    return;
  // A declined cap eviction must not stay counted as on its way (the cap would creep).
  auto& svc = *self->state.svc;
  if (why == ExpireReason::cap && !svc.supervisors.empty())
    self->send(svc.supervisor_for(self->state.hash), declined_atom::value, self->id());
}

void on_close(session_pointer self, const ClosePromise& closed) {
  auto& st = self->state;
  if (st.mode == SessionState::Mode::open) {
    st.mode = SessionState::Mode::closing;
    end_queue(self, errc::session_closed, "the session was closed");
    if (st.running && st.running->record) {
      abandon_persisting(self, errc::session_closed, "the session was closed");
      st.running.reset(); // the store's erase runs after its write
    } else {
      end_running(self, errc::session_closed, "the session was closed");
    }
    st.svc->log->debug("[{}/-] session closed", st.data->key.session_id);
  }
  // From here on this session saves nothing: the runtime may erase its stored data. It
  // stops now even with a blocking turn out (discarded; the job owns its data), so no
  // closed session lingers outside the directory where shutdown could not reach it.
  closed->set_value();
  self->quit();
}

void on_drain(session_pointer self, std::int64_t drain_ns) {
  auto& st = self->state;
  st.mode = SessionState::Mode::draining;
  st.svc->log->debug("[{}/-] draining: {} queued calls end; a running turn may finish",
                     st.data->key.session_id, st.queue.size());
  end_queue(self, errc::shutting_down, "the runtime is shutting down");
  if (!st.running) {
    passivate(self);
    self->quit();
    return;
  }
  // The running turn may still finish (and commit) within the drain time.
  self->delayed_send(self, std::chrono::nanoseconds{drain_ns}, stop_atom::value);
}

void on_stop(session_pointer self) {
  end_running(self, errc::shutting_down, "the runtime shut down before the turn finished");
  passivate(self);
  self->quit();
}

SessionInfo describe(session_pointer self) {
  auto& st = self->state;
  auto actor_now = now_ns(self);
  auto sys_now = std::chrono::system_clock::now();
  auto to_sys = [&](std::int64_t ns) {
    return sys_now
           - std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::nanoseconds{actor_now - ns});
  };
  SessionInfo info;
  info.key = st.data->key;
  info.created = st.data->created; // the conversation's, kept across passivation
  info.last_activity = to_sys(st.activity->last_active.load(relaxed));
  info.turns = st.data->turns;
  info.queue_depth = st.queue.size();
  info.running = st.running != nullptr;
  info.history_size = st.data->history.size();
  if (st.turns_run > 0)
    info.mean_turn_time = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::nanoseconds{st.turn_time_ns / static_cast<std::int64_t>(st.turns_run)});
  return info;
}

} // namespace agentrt::detail
