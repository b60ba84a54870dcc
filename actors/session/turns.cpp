// A session's turns: a non-blocking agent's turn runs inline on the actor, a blocking one
// on the pool; either way its end goes through `finish`, which commits the draft (or has a
// durable store write it first) or discards it, and completes the call.

#include "actors/session/steps.hpp"

#include "actors/services.hpp"
#include "core/agent_registry.hpp"
#include "core/executor.hpp"
#include "core/metrics.hpp"

#include "stores/guarded_store.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

namespace agentrt::detail {

namespace {

std::chrono::microseconds to_us(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d);
}

Reply reply_for(const TurnContext& ctx, Disposition disposition) {
  Reply reply;
  reply.output = ctx.output;
  reply.turn = ctx.number;
  reply.queued_for = to_us(ctx.call->started_at - ctx.call->invoked);
  reply.ran_for = to_us(ctx.finished - ctx.started);
  if (disposition == Disposition::interrupt) {
    reply.error = make_error_code(errc::interrupted);
    reply.message = "interrupted by a later call; the turn's output so far was kept";
  }
  return reply;
}

/// A turn ended: its draft is committed (through the store first, if it is durable) or
/// discarded, and its call completed. `holds_gauge`: the turn still counts as running; the
/// gauge is settled before the call completes, so a host that reads stats() right after a
/// reply sees it up to date.
void finish(session_pointer self, TurnContext& ctx, Disposition disposition, bool holds_gauge,
            TurnJobPtr job = nullptr) {
  auto& st = self->state;
  auto& c = *ctx.call;
  auto& log = *st.svc->log;
  st.turns_run += 1;
  st.turn_time_ns += to_ns(ctx.finished - ctx.started);
  touch(st, self->clock().now());
  auto* store = st.svc->store;
  bool durable = store != nullptr && store->durable() && !st.data->one_shot;
  bool committing = disposition != Disposition::discard && !ctx.timed_out && !ctx.failed;
  if (committing && durable) {
    auto terminal = disposition == Disposition::commit ? EventKind::completed
                                                       : EventKind::cancelled;
    persist(self, std::move(job), ctx, reply_for(ctx, disposition), terminal, holds_gauge);
    return;
  }
  if (holds_gauge)
    st.stripe->running.fetch_sub(1, relaxed);
  if (disposition == Disposition::discard) {
    log.debug("[{}/{}] turn {} discarded", c.session_id, c.id, ctx.number);
  } else if (ctx.timed_out) {
    c.end(errc::timeout, "the turn ran past the call's timeout", ctx.number, [&] {
      log.debug("[{}/{}] turn {} ran past its deadline: discarded", c.session_id, c.id,
                ctx.number);
    });
  } else if (ctx.failed) {
    c.end(errc::agent_failed, ctx.failure, ctx.number, [&] {
      log.debug("[{}/{}] turn {} failed: {}", c.session_id, c.id, ctx.number, ctx.failure);
    });
  } else {
    auto terminal = disposition == Disposition::commit ? EventKind::completed
                                                       : EventKind::cancelled;
    auto& session = *st.data;
    bool committed = c.commit(
      [&] {
        commit_turn(session, ctx);
        log.debug("[{}/{}] turn {} committed", c.session_id, c.id, ctx.number);
      },
      reply_for(ctx, disposition), terminal);
    if (!committed)
      log.debug("[{}/{}] turn {} discarded: the call had already ended", c.session_id, c.id,
                ctx.number);
  }
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
    finish(self, ctx, Disposition::commit, true);
    return;
  }
  auto job = std::make_shared<TurnJob>(std::move(ctx));
  job->holds_gauge = true;
  st.running = job;
  update_busy(st);
  self->send(self, turn_done_atom::value, std::move(job));
}

/// Sends a blocking agent's turn to the pool. The session stays busy and keeps handling
/// cancel, deadlines and close; the result comes back as `turn_done` (through the gate, so
/// never after the Runtime is gone).
void launch(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  auto job = std::make_shared<TurnJob>(c, st.data);
  job->holds_gauge = true;
  job->services = st.svc->turn_services;
  job->ctx.services = job->services.get();
  job->ctx.blocking = true;
  st.running = job;
  st.stripe->running.fetch_add(1, relaxed);
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

} // namespace

void start(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (c->ended()) // it ended while it waited (cancel, timeout, close...)
    return;
  c->admitted.store(true, relaxed);
  auto now = self->clock().now();
  if (now >= c->deadline) {
    c->end(errc::timeout, "the call waited past its timeout");
    return;
  }
  c->started_at = now;
  c->push(EventKind::started);
  if (st.data->entry->options.blocking)
    launch(self, c);
  else
    run_inline(self, c, now);
}

void on_turn_done(session_pointer self, const TurnJobPtr& job) {
  auto& st = self->state;
  if (job != st.running)
    return;
  st.running.reset();
  finish(self, job->ctx, job->disposition, job->holds_gauge, job);
  if (!st.running) // else a durable store is writing the turn
    after_turn(self);
}

void end_running(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  if (st.running && st.running->ctx.call->end(e, message, st.running->ctx.number))
    st.running->disposition = Disposition::discard;
}

} // namespace agentrt::detail
