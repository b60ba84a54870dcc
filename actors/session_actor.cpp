#include "actors/session_actor.hpp"

#include "actors/services.hpp"
#include "actors/session_directory.hpp"
#include "core/agent_registry.hpp"
#include "core/executor.hpp"
#include "core/metrics.hpp"
#include "core/turn_services.hpp"

#include <agentrt/session_store.hpp>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/logger.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>

namespace agentrt::detail {

/// Lets `Call::cancel` reach the session holding a call. Holds a weak address, so it never
/// keeps a session alive and is a no-op once the session is gone.
class WithdrawLink final : public SessionLink {
public:
  explicit WithdrawLink(caf::actor_addr addr) : addr_(std::move(addr)) {
    // nop
  }

  void withdraw(std::uint64_t call_id) noexcept override {
    if (auto hdl = caf::actor_cast<session_actor>(addr_))
      caf::anon_send(hdl, withdraw_atom::value, call_id);
  }

private:
  caf::actor_addr addr_;
};

CallTicket::~CallTicket() {
  if (call_ && !call_->taken.load(std::memory_order_acquire))
    call_->finish_if_open(errc::internal_error,
                          "the session ended before it could take the call; nothing ran");
}

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

std::int64_t to_ns(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

std::chrono::microseconds to_us(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d);
}

std::int64_t now_ns(session_pointer self) {
  return to_ns(self->clock().now().time_since_epoch());
}

void update_busy(SessionState& st) {
  st.activity->busy.store(st.running != nullptr || !st.queue.empty(), relaxed);
}

void touch(SessionState& st, Clock::time_point now) {
  st.activity->last_active.store(to_ns(now.time_since_epoch()), relaxed);
}

/// Ends a call that never ran; counts it as rejected, or as cancelled when the caller had
/// already cancelled it.
void reject(SessionState& st, const CallPtr& c, errc e, std::string message) {
  auto* stripe = st.stripe;
  if (!c->finish_if_open(e, std::move(message), 0,
                         [stripe] { stripe->rejected.fetch_add(1, relaxed); }))
    stripe->cancelled.fetch_add(1, relaxed);
}

/// Ends a queued call with `e`, taking it off the queue gauge and counting it as cancelled
/// before its caller can see the outcome (or at once, if the caller had cancelled it).
void end_queued(SessionState& st, const CallPtr& c, errc e, std::string message) {
  auto* stripe = st.stripe;
  std::function<void()> count = [stripe] {
    stripe->queued.fetch_sub(1, relaxed);
    stripe->cancelled.fetch_add(1, relaxed);
  };
  if (!c->finish_if_open(e, std::move(message), 0, count))
    count();
}

void link_call(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (!st.link)
    st.link = std::make_shared<WithdrawLink>(self->address());
  c->attach(st.link);
}

/// Makes sure a timer fires by `deadline`. One timer per session, for the earliest
/// deadline it waits on: calls queued behind each other mostly have later deadlines, so a
/// busy session arms a timer now and then, not one per call (CAF's clock keeps every
/// pending timer in a map: millions of queued calls would mean millions of entries).
void arm_deadline(session_pointer self, Clock::time_point deadline) {
  auto& st = self->state;
  if (deadline >= st.timer_at)
    return; // a timer fires earlier; its tick re-arms for what is left
  st.timer_at = deadline;
  auto now = self->clock().now();
  auto delay = deadline > now ? deadline - now : Clock::duration::zero();
  self->delayed_send(self, delay, deadline_atom::value, to_ns(deadline.time_since_epoch()));
}

/// Applies a turn's outcome to the session and its call. Counters (and, for a blocking
/// turn, the running gauge) are settled before the caller can see the outcome, so a host
/// that reads stats() right after a reply sees them up to date.
void persist(session_pointer self, TurnJobPtr job, TurnContext& ctx, Reply reply,
             EventKind terminal, bool counts_completed, bool holds_gauge);

/// `holds_gauge`: the turn still counts in the running gauge (a blocking or deferred turn).
void finish(session_pointer self, TurnContext& ctx, Disposition disposition,
            Clock::time_point now, bool holds_gauge, TurnJobPtr job = nullptr) {
  auto& st = self->state;
  auto& c = *ctx.call;
  st.turns_run += 1;
  st.turn_time_ns += to_ns(ctx.finished - ctx.started);
  auto* stripe = st.stripe;
  auto settle = [stripe, holds_gauge](std::atomic<std::uint64_t>& counter) {
    counter.fetch_add(1, relaxed);
    if (holds_gauge)
      stripe->running.fetch_sub(1, relaxed);
  };
  auto& log = *st.svc->log;
  if (disposition == Disposition::discard) {
    settle(stripe->cancelled);
    log.debug("[{}/{}] turn {} discarded", c.session_id, c.id, ctx.number);
  } else if (ctx.timed_out) {
    // Logged inside the completing step, so the line exists before the caller wakes.
    auto ended = [&] {
      settle(stripe->cancelled);
      log.debug("[{}/{}] turn {} ran past its deadline: discarded", c.session_id, c.id,
                ctx.number);
    };
    if (!c.finish_if_open(errc::timeout, "the turn ran past the call's timeout", ctx.number,
                          ended))
      ended();
  } else if (ctx.failed) {
    auto failed = [&](std::atomic<std::uint64_t>& counter) {
      settle(counter);
      log.debug("[{}/{}] turn {} failed: {}", c.session_id, c.id, ctx.number, ctx.failure);
    };
    if (!c.finish_if_open(errc::agent_failed, ctx.failure, ctx.number,
                          [&] { failed(stripe->failed); }))
      failed(stripe->cancelled);
  } else {
    Reply reply;
    reply.output = ctx.output;
    reply.turn = ctx.number;
    reply.queued_for = to_us(c.started_at - c.invoked);
    reply.ran_for = to_us(ctx.finished - ctx.started);
    auto terminal = EventKind::completed;
    if (disposition == Disposition::interrupt) {
      reply.error = make_error_code(errc::interrupted);
      reply.message = "interrupted by a later call; the turn's output so far was kept";
      terminal = EventKind::cancelled;
    }
    auto& session = *st.data;
    auto* store = st.svc->store;
    if (store != nullptr && store->write_through() && !session.one_shot) {
      persist(self, std::move(job), ctx, std::move(reply), terminal,
              disposition == Disposition::commit, holds_gauge);
      return;
    }
    auto& counter = disposition == Disposition::commit ? stripe->completed : stripe->cancelled;
    bool committed = c.commit_and_complete(
      [&] {
        commit_turn(session, ctx);
        settle(counter);
        log.debug("[{}/{}] turn {} committed", c.session_id, c.id, ctx.number);
      },
      std::move(reply), terminal);
    if (!committed) {
      settle(stripe->cancelled);
      log.debug("[{}/{}] turn {} discarded: the call had already ended", c.session_id, c.id,
                ctx.number);
    }
  }
  touch(st, now);
}

/// Counts a durable turn's end once: its counter, and the gauge if it still holds it.
void settle_job(SessionState& st, TurnJob& job, std::atomic<std::uint64_t>& counter) {
  counter.fetch_add(1, relaxed);
  if (job.holds_gauge) {
    st.stripe->running.fetch_sub(1, relaxed);
    job.holds_gauge = false;
  }
}

/// Durable commit: the call is claimed (no cancel or timeout can end it now), the turn goes
/// to the store, and the session stays busy until `persisted` comes back; only then is the
/// turn applied in memory and the reply released. The store may commit many sessions'
/// turns in one transaction.
void persist(session_pointer self, TurnJobPtr job, TurnContext& ctx, Reply reply,
             EventKind terminal, bool counts_completed, bool holds_gauge) {
  auto& st = self->state;
  auto* stripe = st.stripe;
  if (!ctx.call->claim()) {
    stripe->cancelled.fetch_add(1, relaxed);
    if (holds_gauge)
      stripe->running.fetch_sub(1, relaxed);
    st.svc->log->debug("[{}/{}] turn {} discarded: the call had already ended",
                       ctx.call->session_id, ctx.call->id, ctx.number);
    return;
  }
  if (!job)
    job = std::make_shared<TurnJob>(std::move(ctx));
  // Running from the claim on: whatever happens next, the session (or its destructor)
  // still owns the claimed call and ends it.
  job->holds_gauge = holds_gauge;
  st.running = job;
  update_busy(st);
  try {
    job->record = std::make_shared<TurnRecord>(make_record(*st.data, job->ctx));
  } catch (const std::exception& e) {
    job->ctx.call->fail_claimed(errc::store_failed, e.what(), job->ctx.number,
                                [&] { settle_job(st, *job, stripe->failed); });
    st.running.reset();
    return;
  }
  job->reply = std::move(reply);
  job->terminal = terminal;
  job->counts_completed = counts_completed;
  st.svc->store->save_async(job->record, [job, addr = self->address(),
                                          gate = st.svc->gate](std::error_code ec) {
    job->persist_error = ec;
    gate->pass([&] {
      if (auto hdl = caf::actor_cast<session_actor>(addr))
        caf::anon_send(hdl, persisted_atom::value, job);
    });
  });
}

/// Ends a turn the store is still writing (close, shutdown): its caller gets `e`. If the
/// write lands anyway, a close erases it after; at shutdown it may stay (documented).
void abandon_persisting(SessionState& st, errc e, const std::string& message) {
  auto& job = *st.running;
  job.ctx.call->fail_claimed(e, message, job.ctx.number,
                             [&] { settle_job(st, job, st.stripe->cancelled); });
}

/// Runs a non-blocking agent's turn here, on the actor. Calls that arrived meanwhile wait
/// in the mailbox, unseen: if there are any, the turn's end is deferred behind them (a
/// `turn_done` to self), so they find the session busy, exactly as they would find a
/// blocking turn: busy policies, the queue bound and deadlines apply, and an interrupt or
/// rollback among them decides this turn's fate. With an empty mailbox (the common case)
/// the turn ends at once, without the extra message.
void run_inline(session_pointer self, const CallPtr& c, Clock::time_point started) {
  auto& st = self->state;
  st.stripe->running.fetch_add(1, relaxed);
  TurnContext ctx{c, st.data};
  ctx.services = st.svc->turn_services.get();
  ctx.started = started;
  run_turn(ctx);
  auto now = self->clock().now();
  ctx.finished = now;
  if (now > c->deadline) { // nothing could stop it sooner: it never left this handler
    ctx.failed = true;
    ctx.timed_out = true;
  }
  if (self->mailbox().empty()) {
    st.stripe->running.fetch_sub(1, relaxed);
    finish(self, ctx, Disposition::commit, now, false);
    return;
  }
  auto job = std::make_shared<TurnJob>(std::move(ctx));
  job->holds_gauge = true;
  st.running = job;
  update_busy(st);
  self->send(self, turn_done_atom::value, std::move(job));
}

void launch(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  auto job = std::make_shared<TurnJob>(c, st.data);
  job->holds_gauge = true;
  job->services = st.svc->turn_services;
  job->ctx.services = job->services.get();
  job->ctx.blocking = true;
  st.running = job;
  st.stripe->running.fetch_add(1, relaxed);
  link_call(self, c);
  arm_deadline(self, c->deadline);
  st.svc->executor->post([job, addr = self->address(), gate = st.svc->gate]() mutable {
    job->ctx.started = Clock::now();
    run_turn(job->ctx);
    job->ctx.finished = Clock::now();
    gate->pass([&] {
      if (auto hdl = caf::actor_cast<session_actor>(addr))
        caf::anon_send(hdl, turn_done_atom::value, std::move(job));
    });
  });
}

/// Starts `c`'s turn now (the session is not running one).
void start(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  // The call may have ended while it waited (cancel, timeout, close...).
  if (c->ended()) {
    st.stripe->cancelled.fetch_add(1, relaxed);
    return;
  }
  auto now = self->clock().now();
  if (now >= c->deadline) {
    auto* stripe = st.stripe;
    std::function<void()> count = [stripe] { stripe->cancelled.fetch_add(1, relaxed); };
    if (!c->finish_if_open(errc::timeout, "the call waited past its timeout", 0, count))
      count();
    return;
  }
  c->started_at = now;
  c->push(EventKind::started);
  if (st.data->entry->options.blocking)
    launch(self, c);
  else
    run_inline(self, c, now);
}

void end_one_shot(session_pointer self);

/// Runs queued calls while the session is free; a one-shot session ends once it is idle.
void next(session_pointer self) {
  auto& st = self->state;
  while (!st.running && !st.queue.empty()) {
    auto c = std::move(st.queue.front());
    st.queue.erase(st.queue.begin());
    if (st.urgent > 0)
      --st.urgent;
    st.stripe->queued.fetch_sub(1, relaxed);
    start(self, c);
  }
  update_busy(st);
  if (!st.running && st.data->one_shot && st.mode == SessionState::Mode::open)
    end_one_shot(self);
}

/// Takes call `i` out of the queue (it ended while waiting).
void drop_queued(SessionState& st, std::vector<CallPtr>::iterator i) {
  if (static_cast<std::size_t>(i - st.queue.begin()) < st.urgent)
    --st.urgent;
  st.queue.erase(i);
}

void enqueue(session_pointer self, const CallPtr& c, bool urgent) {
  auto& st = self->state;
  std::size_t position;
  if (urgent) {
    // Ahead of ordinary calls, behind earlier interrupts: arrival order among them.
    st.queue.insert(st.queue.begin() + static_cast<std::ptrdiff_t>(st.urgent), c);
    position = ++st.urgent;
  } else {
    st.queue.push_back(c);
    position = st.queue.size();
  }
  st.stripe->queued.fetch_add(1, relaxed);
  c->queued_at = self->clock().now();
  c->push(EventKind::queued, {}, position);
  link_call(self, c);
  arm_deadline(self, c->deadline);
  update_busy(st);
}

/// The session is running a turn and `c` arrived: apply `c`'s busy policy.
void on_busy(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  auto& running = *st.running;
  auto& log = *st.svc->log;
  auto depth = st.data->entry->options.max_queue_depth;
  if (depth == 0)
    depth = st.svc->config.max_queue_depth;
  if (c->on_busy != BusyPolicy::reject && st.queue.size() >= depth) {
    // The bound holds for every policy, so interrupts cannot grow the queue without limit.
    reject(st, c, errc::overloaded,
           "the session's queue is full (" + std::to_string(depth) + " calls waiting)");
    return;
  }
  switch (c->on_busy) {
    case BusyPolicy::enqueue:
      enqueue(self, c, false);
      return;
    case BusyPolicy::reject:
      reject(st, c, errc::session_busy,
             "the session is running call " + std::to_string(running.ctx.call->id));
      return;
    case BusyPolicy::interrupt:
    case BusyPolicy::rollback: {
      auto& victim = *running.ctx.call;
      if (running.disposition == Disposition::commit) {
        if (c->on_busy == BusyPolicy::interrupt) {
          running.disposition = Disposition::interrupt;
          victim.stop.request_stop();
        } else if (victim.finish_if_open(errc::rolled_back,
                                         "rolled back by call " + std::to_string(c->id),
                                         running.ctx.number)) {
          running.disposition = Disposition::discard;
        }
        log.debug("[{}/{}] {} by call {}", victim.session_id, victim.id,
                  c->on_busy == BusyPolicy::interrupt ? "interrupted" : "rolled back", c->id);
      }
      enqueue(self, c, true);
      return;
    }
  }
}

/// Brings the session's stored context back on its first call. False (and `c` failed with
/// store_failed; the next call tries again) when the store could not be read.
bool ensure_loaded(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (st.loaded)
    return true;
  // A one-shot session's id was minted for its call: nothing can be stored under it.
  st.data->one_shot = c->one_shot;
  if (st.svc->store && !st.data->one_shot) {
    std::optional<StoredSession> stored;
    if (auto ec = st.svc->store->load(st.data->key, stored)) {
      reject(st, c, errc::store_failed,
             "the session store could not load the session: " + ec.message());
      return false;
    }
    if (stored) {
      auto& d = *st.data;
      d.history = std::move(stored->history);
      d.state = std::move(stored->state);
      d.turns = stored->turns;
      d.created = stored->created;
      st.svc->log->debug("[{}/{}] session restored from the store: {} turns", d.key.session_id,
                         c->id, d.turns);
    }
  }
  st.loaded = true;
  return true;
}

/// Hands the session to a passivating store before the actor stops (a write-through store
/// has every turn already). Moves the data out (copies it while an abandoned blocking turn
/// may still read it); if the store refuses, the data is moved back and false returned.
bool passivate(session_pointer self) {
  auto& st = self->state;
  auto* store = st.svc->store;
  if (!store || store->write_through() || !st.loaded || st.data->one_shot)
    return true;
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
  if (auto ec = store->put(s)) {
    st.svc->log->warn("[{}/-] could not hand the session to the store: {}", d.key.session_id,
                      ec.message());
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
  auto empty = [self] { return self->mailbox().empty(); };
  bool left = st.svc->directory ? st.svc->directory->retire(st.data->key, st.hash,
                                                            self->address(), empty)
                                : empty();
  if (!left)
    return;
  st.svc->log->debug("[{}/-] one-shot session ended", st.data->key.session_id);
  self->quit();
}

/// A turn is over and the session is free: stop if it is draining (handing its context to
/// the store), otherwise start what is queued.
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

void handle_call(session_pointer self, const CallPtr& c);

void on_call(session_pointer self, const CallTicket& ticket) {
  handle_call(self, ticket.call());
  ticket.handled();
}

void handle_call(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (st.mode != SessionState::Mode::open) {
    if (st.mode == SessionState::Mode::closing)
      reject(st, c, errc::session_closed, "the session was closed");
    else
      reject(st, c, errc::shutting_down, "the runtime is shutting down");
    return;
  }
  if (c->ended()) { // cancelled or timed out on its way here: it must not act
    st.stripe->cancelled.fetch_add(1, relaxed);
    return;
  }
  if (!ensure_loaded(self, c))
    return;
  if (!st.running) {
    start(self, c);
    next(self);
  } else {
    on_busy(self, c);
  }
}

/// Ends every queued call with `e` (close, shutdown).
void end_queue(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  for (auto& c : st.queue)
    end_queued(st, c, e, message);
  st.queue.clear();
  st.urgent = 0;
  update_busy(st);
}

/// Ends the running turn's call with `e`; the turn itself is discarded when it returns.
void end_running(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  if (st.running && st.running->ctx.call->finish_if_open(e, message, st.running->ctx.number))
    st.running->disposition = Disposition::discard;
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

/// The deadline timer fired: every call past its deadline ends with `timeout` (a running
/// turn is discarded when it comes back), then the timer is armed for the next deadline.
void on_deadline(session_pointer self, std::int64_t tick_ns) {
  auto& st = self->state;
  if (to_ns(st.timer_at.time_since_epoch()) == tick_ns)
    st.timer_at = Clock::time_point::max();
  auto now = self->clock().now();
  if (st.running && st.running->ctx.call->deadline <= now
      && st.running->ctx.call->finish_if_open(errc::timeout,
                                              "the turn did not finish within the call's timeout",
                                              st.running->ctx.number))
    st.running->disposition = Disposition::discard;
  auto next_deadline = Clock::time_point::max();
  for (auto i = st.queue.begin(); i != st.queue.end();) {
    if ((*i)->deadline <= now) {
      end_queued(st, *i, errc::timeout, "the call waited in the queue past its timeout");
      if (static_cast<std::size_t>(i - st.queue.begin()) < st.urgent)
        --st.urgent;
      i = st.queue.erase(i);
    } else {
      next_deadline = std::min(next_deadline, (*i)->deadline);
      ++i;
    }
  }
  if (st.running && !st.running->ctx.call->ended())
    next_deadline = std::min(next_deadline, st.running->ctx.call->deadline);
  if (next_deadline != Clock::time_point::max())
    arm_deadline(self, next_deadline);
  update_busy(st);
}

/// Lifetime expiry of a live session: its stored context is erased here, on the session's
/// own thread and outside the directory's lock (a durable store's erase can wait for its
/// writer), and the session starts afresh in memory; it then leaves like an idle session.
/// A call that arrived meanwhile is served by the fresh session. False if the erase failed
/// (the session keeps its context; the supervisor asks again at the next sweep).
bool reset_for_lifetime(session_pointer self) {
  auto& st = self->state;
  auto& key = st.data->key;
  if (auto* store = st.svc->store; store && !st.data->one_shot) {
    if (auto ec = store->erase(key)) {
      st.svc->log->warn("[{}/-] could not erase the session past its lifetime: {}",
                        key.session_id, ec.message());
      return false;
    }
  }
  auto fresh = std::make_shared<SessionData>();
  fresh->key = key;
  fresh->entry = st.data->entry;
  fresh->one_shot = st.data->one_shot;
  st.data = std::move(fresh);
  st.loaded = true; // the store holds nothing for the key any more
  st.born = now_ns(self);
  return true;
}

/// Tells the supervisor that an eviction for the cap was declined, so it does not count
/// it as on its way (the cap would creep up by one for each decline).
void report_declined(session_pointer self, ExpireReason why) {
  auto& svc = *self->state.svc;
  if (why == ExpireReason::cap && !svc.supervisors.empty())
    self->send(svc.supervisor_for(self->state.hash), declined_atom::value, self->id());
}

const char* reason_text(ExpireReason why) {
  switch (why) {
    case ExpireReason::idle: return "idle";
    case ExpireReason::lifetime: return "max lifetime";
    case ExpireReason::cap: return "max sessions";
  }
  return "unknown";
}

/// Expires the session if it is idle and unchanged since the supervisor looked; see
/// SessionDirectory::retire for why nothing can be lost. True if it ended.
bool try_expire(session_pointer self, std::int64_t observed, ExpireReason why) {
  auto& st = self->state;
  if (st.mode != SessionState::Mode::open || st.running || !st.queue.empty())
    return false;
  if (why == ExpireReason::lifetime) {
    // The supervisor counts from the actor's spawn. The conversation may be older (it was
    // passivated and came back: its stored `created` says so) or younger (this session
    // reset it for its lifetime and served on): the session judges by its own age.
    auto lifetime = std::chrono::duration_cast<std::chrono::nanoseconds>(
      st.svc->config.max_lifetime);
    bool old = now_ns(self) - st.born >= lifetime.count()
               || std::chrono::system_clock::now() - st.data->created >= lifetime;
    if (!old || !reset_for_lifetime(self))
      return false;
  } else if (st.activity->last_active.load(relaxed) != observed) {
    return false; // used since the supervisor looked
  }
  // Under the directory's lock, only with an empty mailbox: hand the session over in the
  // same step as leaving the directory, so the next call's new session finds exactly what
  // this one left. A session reset for its lifetime is fresh: nothing to hand over.
  bool fresh = why == ExpireReason::lifetime;
  auto leave = [&] { return self->mailbox().empty() && (fresh || passivate(self)); };
  bool left = st.svc->directory
                ? st.svc->directory->retire(st.data->key, st.hash, self->address(), leave)
                : leave();
  if (!left)
    return false;
  st.svc->metrics->expirations.fetch_add(1, relaxed);
  st.svc->log->debug("[{}/-] session expired ({})", st.data->key.session_id, reason_text(why));
  self->quit();
  return true;
}

/// close(): fail what is queued and running with session_closed and stop now. The promise
/// is kept once this session will save nothing more: the runtime may then erase its data.
void on_close(session_pointer self, const ClosePromise& closed) {
  auto& st = self->state;
  if (st.mode == SessionState::Mode::open) {
    st.mode = SessionState::Mode::closing;
    end_queue(self, errc::session_closed, "the session was closed");
    if (st.running && st.running->record) {
      abandon_persisting(st, errc::session_closed, "the session was closed");
      st.running.reset(); // counted; the store's erase runs after its write
    } else {
      end_running(self, errc::session_closed, "the session was closed");
    }
    st.svc->log->debug("[{}/-] session closed", st.data->key.session_id);
  }
  // It stops now even with a blocking turn out (discarded; the job owns its data), so no
  // closed session lingers outside the directory where shutdown could not reach it.
  closed->set_value();
  self->quit();
}

/// Shutdown: queued calls fail, the running turn may finish (and commit) within the drain.
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
  self->delayed_send(self, std::chrono::nanoseconds{drain_ns}, stop_atom::value);
}

/// A durable store finished writing a claimed turn: apply it and release the reply, or fail
/// the call with store_failed and change nothing.
void on_persisted(session_pointer self, const TurnJobPtr& job) {
  auto& st = self->state;
  if (job != st.running)
    return; // its call was already ended (close, shutdown)
  st.running.reset();
  auto& c = *job->ctx.call;
  auto& log = *st.svc->log;
  if (!job->persist_error) {
    auto& counter = job->counts_completed ? st.stripe->completed : st.stripe->cancelled;
    c.complete_claimed(
      [&] {
        apply_record(*st.data, std::move(*job->record));
        settle_job(st, *job, counter);
        log.debug("[{}/{}] turn {} committed", c.session_id, c.id, job->ctx.number);
      },
      std::move(job->reply), job->terminal);
  } else {
    c.fail_claimed(errc::store_failed,
                   "the session store could not save the turn: " + job->persist_error.message(),
                   job->ctx.number, [&] {
                     settle_job(st, *job, st.stripe->failed);
                     log.warn("[{}/{}] turn {} not saved: {}", c.session_id, c.id,
                              job->ctx.number, job->persist_error.message());
                   });
  }
  touch(st, self->clock().now());
  after_turn(self);
}

/// The caller cancelled a queued call: take it out of the queue.
void on_withdraw(session_pointer self, std::uint64_t id) {
  auto& st = self->state;
  auto i = std::find_if(st.queue.begin(), st.queue.end(),
                        [id](const CallPtr& c) { return c->id == id; });
  if (i == st.queue.end())
    return;
  drop_queued(st, i);
  st.stripe->queued.fetch_sub(1, relaxed);
  st.stripe->cancelled.fetch_add(1, relaxed);
  update_busy(st);
}

} // namespace

SessionState::~SessionState() {
  if (svc == nullptr)
    return;
  auto e = mode == Mode::closing  ? errc::session_closed
           : mode == Mode::failed ? errc::internal_error
                                  : errc::shutting_down;
  std::string message = mode == Mode::closing  ? "the session was closed"
                        : mode == Mode::failed ? "an internal failure ended the session"
                                               : "the session ended before the call finished";
  for (auto& c : queue) {
    c->finish_if_open(e, message);
    stripe->queued.fetch_sub(1, relaxed);
    stripe->cancelled.fetch_add(1, relaxed);
  }
  if (running) {
    if (running->record) {
      running->ctx.call->fail_claimed(e, message, running->ctx.number);
    } else {
      running->ctx.call->finish_if_open(e, message, running->ctx.number);
    }
    stripe->cancelled.fetch_add(1, relaxed);
    if (running->holds_gauge)
      stripe->running.fetch_sub(1, relaxed);
  }
  if (svc->directory && data)
    svc->directory->forget(data->key, hash, id);
  svc->metrics->live.fetch_sub(1, relaxed);
}

session_actor::behavior_type session_behavior(session_pointer self, SessionKey key,
                                              std::shared_ptr<const AgentEntry> entry,
                                              Services* svc, std::size_t hash,
                                              ActivityPtr activity) {
  auto& st = self->state;
  st.svc = svc;
  st.stripe = &svc->metrics->stripe(hash);
  st.hash = hash;
  st.activity = std::move(activity);
  st.data = std::make_shared<SessionData>();
  st.data->key = std::move(key);
  st.data->entry = std::move(entry);
  st.id = self->id();
  st.born = now_ns(self);
  svc->log->debug("[{}/-] session of agent '{}' started", st.data->key.session_id,
                  st.data->key.agent);
  // Agent code, stores and callbacks are all guarded; what still escapes is a bug or an
  // exhausted heap. The session then ends and fails every call it holds (state destructor)
  // or has in its mailbox (CallTicket), instead of leaving them without an outcome.
  self->set_exception_handler([self](caf::scheduled_actor*, std::exception_ptr& ep) {
    self->state.mode = SessionState::Mode::failed;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      self->state.svc->log->error("[{}/-] session failed: {}", self->state.data->key.session_id,
                                  e.what());
    } catch (...) {
      self->state.svc->log->error("[{}/-] session failed: unknown exception",
                                  self->state.data->key.session_id);
    }
    return caf::make_error(caf::sec::runtime_error);
  });
  return {
    [self](call_atom, const CallTicket& ticket) { on_call(self, ticket); },
    [self](turn_done_atom, const TurnJobPtr& job) {
      auto& st = self->state;
      if (job != st.running)
        return;
      st.running.reset();
      finish(self, job->ctx, job->disposition, self->clock().now(), job->holds_gauge, job);
      if (!st.running) // else a durable store is writing the turn
        after_turn(self);
    },
    [self](persisted_atom, const TurnJobPtr& job) { on_persisted(self, job); },
    [self](withdraw_atom, std::uint64_t id) { on_withdraw(self, id); },
    [self](deadline_atom, std::int64_t tick_ns) { on_deadline(self, tick_ns); },
    [self](expire_atom, std::int64_t observed, std::uint8_t reason) {
      auto why = static_cast<ExpireReason>(reason);
      if (!try_expire(self, observed, why))
        report_declined(self, why);
    },
    [self](close_atom, const ClosePromise& closed) { on_close(self, closed); },
    [self](describe_atom, const DescribePromise& promise) {
      promise->set_value(describe(self));
    },
    [self](drain_atom, std::int64_t drain_ns) { on_drain(self, drain_ns); },
    [self](stop_atom) {
      end_running(self, errc::shutting_down, "the runtime shut down before the turn finished");
      passivate(self);
      self->quit();
    },
  };
}

void release_caf_logger_reference() noexcept {
  caf::logger::set_current_actor_system(nullptr);
}

session_actor spawn_session(caf::actor_system& sys, Services& svc, SessionKey key,
                            std::shared_ptr<const AgentEntry> entry, std::size_t hash) {
  auto activity = std::make_shared<Activity>();
  activity->last_active.store(to_ns(sys.clock().now().time_since_epoch()), relaxed);
  auto hdl = sys.spawn(session_behavior, std::move(key), std::move(entry), &svc, hash, activity);
  release_caf_logger_reference();
  auto live = svc.metrics->live.fetch_add(1, relaxed) + 1;
  svc.metrics->activations.fetch_add(1, relaxed);
  if (!svc.supervisors.empty()) {
    auto& sup = svc.supervisor_for(hash);
    caf::anon_send(sup, adopt_atom::value, hdl, std::move(activity));
    if (svc.config.max_sessions > 0 && static_cast<std::size_t>(live) > svc.config.max_sessions)
      caf::anon_send(sup, evict_atom::value);
  }
  return hdl;
}

} // namespace agentrt::detail
