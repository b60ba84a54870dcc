// A session's turns: a non-blocking agent's turn runs inline on the actor, a blocking one
// on the pool, a coroutine one on the actor in pieces (between its awaits); however it
// runs, its end goes through `finish`, which commits the draft (or has a durable store
// write it first) or discards it, and completes the call.

#include "actors/session/steps.hpp"

#include "core/compaction.hpp"

#include "actors/services.hpp"
#include "actors/session_ref.hpp"
#include "core/agent_registry.hpp"
#include "core/current_turn.hpp"
#include "core/exception_text.hpp"
#include "core/executor.hpp"
#include "core/metrics.hpp"
#include "core/turn_services.hpp"
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
/// discarded, and its call completed.
void finish(session_pointer self, TurnContext& ctx, Disposition disposition,
            TurnJobPtr job = nullptr) {
  auto& st = self->state;
  auto& c = *ctx.call;
  auto& log = *st.svc->log;
  st.turns_run += 1;
  st.turn_time_ns += to_ns(ctx.finished - ctx.started);
  touch(st, self->clock().now());
  auto* store = st.svc->store;
  bool durable = store != nullptr && store->durable() && !st.data->ephemeral;
  bool committing = disposition != Disposition::discard && !ctx.timed_out && !ctx.failed;
  auto terminal = disposition == Disposition::commit ? EventKind::completed
                                                     : EventKind::cancelled;
  if (committing && durable) {
    persist(self, std::move(job), ctx, reply_for(ctx, disposition), terminal);
  } else if (disposition == Disposition::discard) {
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

/// Puts a turn whose handler is done behind the calls that arrived while it ran.
void defer_end(session_pointer self, TurnJobPtr job) {
  auto& st = self->state;
  job->ended = true;
  st.running = job;
  update_busy(st);
  self->send(self, turn_done_atom::value, std::move(job));
}

/// A turn whose handler is done ends here, unless calls arrived while it ran: then its end
/// waits behind them (a `turn_done` to self), so they find the session busy, exactly as they
/// would find a blocking turn: busy policies, the queue bound and deadlines apply, and an
/// interrupt or rollback among them decides this turn's fate. An empty mailbox (the common
/// case) ends it at once, without the extra message.
void end_or_defer(session_pointer self, TurnJobPtr job) {
  auto& st = self->state;
  if (self->mailbox().empty()) {
    if (st.running == job)
      st.running.reset();
    finish(self, job->ctx, job->disposition, job);
    return;
  }
  defer_end(self, std::move(job));
}

/// Runs a non-blocking agent's turn here, on the actor. Its context lives on this stack:
/// only a turn whose end must wait (or be written by a durable store) becomes a TurnJob.
void run_inline(session_pointer self, const CallPtr& c, Clock::time_point started) {
  auto& st = self->state;
  TurnContext ctx{c, st.data};
  ctx.services = st.svc->turn_services.get();
  ctx.started = started;
  {
    GaugeToken running{st.stripe->running};
    run_turn(ctx);
  }
  if (!ctx.failed)
    plan_compaction(ctx); // an inline agent has no compactor: the oldest entries are dropped
  auto now = self->clock().now();
  ctx.finished = now;
  if (now > c->deadline) { // nothing could stop it sooner: it never left this handler
    ctx.failed = true;
    ctx.timed_out = true;
  }
  if (self->mailbox().empty())
    finish(self, ctx, Disposition::commit);
  else
    defer_end(self, std::make_shared<TurnJob>(std::move(ctx)));
}

/// A blocking turn that succeeded folds its history here, on its pool thread, if it must.
void compact_here(TurnJob& job, spdlog::logger& log) {
  auto& ctx = job.ctx;
  if (ctx.failed || ctx.services == nullptr || ctx.call->ended())
    return;
  auto oldest = plan_compaction(ctx);
  if (!oldest)
    return;
  job.compacting.store(true);
  auto summary = ctx.services->run_compactor(ctx, ctx.session->entry->options.compactor, *oldest,
                                             job.compaction_stop.get_token());
  if (auto failed = take_summary(ctx, oldest->entries.size(), std::move(summary)))
    log.warn("[{}/{}] {}", ctx.call->session_id, ctx.call->id, *failed);
}

/// Sends a blocking agent's turn to the pool. The session stays busy and keeps handling
/// cancel, deadlines and close; the result comes back as `turn_done` (through the gate, so
/// never after the Runtime is gone). The turn starts when a pool thread takes it: its
/// `started` event, its running gauge and its queue time (which includes the wait for a
/// thread) say so. A call that ended meanwhile does not run at all.
void launch(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  auto job = std::make_shared<TurnJob>(c, st.data);
  job->services = st.svc->turn_services;
  job->ctx.services = job->services.get();
  job->ctx.blocking = true;
  st.running = job;
  arm_deadline(self, c->deadline);
  // The gauge is reached through the gate: a handler that outlives the Runtime (it ignored
  // its stop token past the drain) must not touch the Runtime's metrics.
  st.svc->executor->post([job, addr = self->address(), gate = st.svc->gate,
                          gauge = &st.stripe->running, log = st.svc->log]() mutable {
    auto& ctx = job->ctx;
    ctx.started = Clock::now();
    if (!ctx.call->ended()) {
      ctx.call->started_at = ctx.started;
      ctx.call->push(EventKind::started);
      bool counted = false;
      gate->pass([&] {
        gauge->fetch_add(1, relaxed);
        counted = true;
      });
      run_turn(ctx);
      ctx.finished = Clock::now(); // the handler's end: what the call's deadline is held to
      compact_here(*job, *log);
      gate->pass([&] {
        if (counted)
          gauge->fetch_sub(1, relaxed);
      });
    } else {
      job->disposition = Disposition::discard;
      ctx.finished = Clock::now();
    }
    gate->pass([&] {
      if (auto hdl = caf::actor_cast<session_actor>(addr))
        caf::anon_send(hdl, turn_done_atom::value, std::move(job));
    });
  });
}

/// Records what the finished compactor of a coroutine turn made of the oldest entries.
void take_compaction(session_pointer self, const TurnJobPtr& job) {
  auto& ctx = job->ctx;
  auto& co = *job->coroutine;
  Result<std::string> summary = Error{errc::agent_failed, "the compactor threw"};
  try {
    summary = co.compaction.result();
  } catch (...) {
    summary = Error{errc::agent_failed,
                    "the compactor threw: " + exception_text(std::current_exception())};
  }
  if (co.abort) // stopped meanwhile: the turn does not commit anyway
    return;
  if (auto failed = take_summary(ctx, co.folding, std::move(summary)))
    self->state.svc->log->warn("[{}/{}] {}", ctx.call->session_id, ctx.call->id, *failed);
}

/// A coroutine turn that succeeded runs its agent's compactor, if its history must be
/// folded, in its own chain (its awaits park on the session like the handler's). True if
/// the compactor waits.
bool start_compaction(session_pointer self, const TurnJobPtr& job) {
  auto& ctx = job->ctx;
  auto& co = *job->coroutine;
  if (ctx.failed || co.abort || ctx.call->ended())
    return false;
  co.oldest = plan_compaction(ctx); // kept: the compactor reads it across its awaits
  if (!co.oldest)
    return false;
  co.folding = co.oldest->entries.size();
  job->compacting.store(true);
  try {
    TurnScope scope{ctx.session->key, false};
    co.compaction = ctx.session->entry->options.compactor(*co.oldest);
    if (!co.compaction.valid()) {
      co.folding = 0;
      self->state.svc->log->warn("[{}/{}] the compactor returned no coroutine; the history "
                                 "stays as it was", ctx.call->session_id, ctx.call->id);
      return false;
    }
    co.compaction.handle().promise().context = &co;
    co.compaction.handle().resume();
  } catch (...) {
    co.compaction = {};
    self->state.svc->log->warn("[{}/{}] the compactor threw, the history stays as it was: {}",
                               ctx.call->session_id, ctx.call->id,
                               exception_text(std::current_exception()));
    return false;
  }
  if (!co.compaction.done())
    return true;
  take_compaction(self, job);
  return false;
}

/// Continues a coroutine turn after its coroutine ran (started, or resumed): if its Task is
/// done, the turn ends (true when it ended here, not deferred); otherwise it waits for its
/// await to resume it.
bool after_resume(session_pointer self, const TurnJobPtr& job) {
  auto& co = *job->coroutine;
  // No task: the factory or the handler failed before a coroutine existed (ctx.failed).
  if (co.task.valid() && !co.task.done())
    return false;
  auto& ctx = job->ctx;
  if (co.compaction.valid()) { // the compactor ran in the turn's chain
    if (!co.compaction.done())
      return false;
    take_compaction(self, job);
  } else if (co.task.valid()) {
    try {
      auto output = co.task.result();
      if (!ctx.failed)
        ctx.output = std::move(output);
    } catch (...) {
      ctx.failed = true;
      ctx.failure = exception_text(std::current_exception());
    }
    if (start_compaction(self, job))
      return false; // it waits: it resumes through the session like any await
  }
  ctx.finished = self->clock().now();
  co.running.release();
  end_or_defer(self, job);
  return self->state.running != job;
}

/// Starts a coroutine agent's turn on the actor: the handler runs until its first await.
void run_coroutine(session_pointer self, const CallPtr& c, Clock::time_point started) {
  auto& st = self->state;
  auto job = std::make_shared<TurnJob>(c, st.data);
  job->services = st.svc->turn_services;
  job->ctx.services = job->services.get();
  job->ctx.started = started;
  job->coroutine = std::make_unique<CoroutineTurn>(self, *job);
  auto& co = *job->coroutine;
  co.running = GaugeToken{st.stripe->running};
  st.running = job;
  c->attach(session_ref(self)); // a cancel reaches the session, which fails the await
  arm_deadline(self, c->deadline);
  co.turn.emplace(job->ctx);
  if (start_coroutine_turn(job->ctx, *co.turn, co.task)) {
    co.task.handle().promise().context = &co;
    TurnScope scope{st.data->key, false};
    co.task.handle().resume();
  }
  // else: the factory or the handler failed before the coroutine existed; ctx.failed
  after_resume(self, job); // the caller (a call, or the queue) goes on with the next call
}

} // namespace

namespace {

/// Ends a call with internal_error if starting it throws (an exhausted heap, a bug): taken
/// off the queue or out of the mailbox, it is neither queued nor running yet, and nothing
/// else would end it.
class EndIfUnwinding {
public:
  explicit EndIfUnwinding(const CallPtr& c) noexcept
    : c_(c), exceptions_(std::uncaught_exceptions()) {
    // nop
  }
  ~EndIfUnwinding() {
    if (std::uncaught_exceptions() > exceptions_)
      c_->end(errc::internal_error, "an internal failure ended the session as the call started");
  }
  EndIfUnwinding(const EndIfUnwinding&) = delete;
  EndIfUnwinding& operator=(const EndIfUnwinding&) = delete;

private:
  const CallPtr& c_;
  int exceptions_;
};

} // namespace

void start(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (c->ended()) // it ended while it waited (cancel, timeout, close...)
    return;
  EndIfUnwinding guard{c};
  c->admitted.store(true, relaxed);
  auto now = self->clock().now();
  if (now >= c->deadline) {
    c->end(errc::timeout, "the call waited past its timeout");
    return;
  }
  auto& entry = *st.data->entry;
  if (entry.options.blocking) {
    launch(self, c);
    return;
  }
  c->started_at = now;
  c->push(EventKind::started);
  if (entry.is_async())
    run_coroutine(self, c, now);
  else
    run_inline(self, c, now);
}

void on_turn_done(session_pointer self, const TurnJobPtr& job) {
  auto& st = self->state;
  if (job != st.running)
    return;
  st.running.reset();
  // A blocking turn whose result comes back after its call's deadline ran past it, even
  // if the deadline's timer has not fired yet (a sub-call with the same deadline ends first
  // and the handler returns at once): as for an inline turn, the session's clock decides.
  // Not a turn whose compactor the deadline stopped: its handler had finished in time.
  auto& ctx = job->ctx;
  if (ctx.blocking && !job->ended && !job->compacting.load()
      && self->clock().now() > ctx.call->deadline)
    ctx.timed_out = true;
  finish(self, job->ctx, job->disposition, job);
  if (!st.running) // else a durable store is writing the turn
    after_turn(self);
}

void on_resume(session_pointer self, const AwaitSlotPtr& slot) {
  auto& st = self->state;
  auto job = st.running;
  if (!job || !job->coroutine || job->coroutine->awaiting != slot)
    return; // a late completion: the turn moved on, or ended
  job->coroutine->awaiting.reset();
  {
    TurnScope scope{st.data->key, false};
    slot->handle.resume();
  }
  if (after_resume(self, job))
    after_turn(self); // it ended: start what is queued
}

void stop_compaction(TurnJob& job, Error why) {
  job.compaction_stop.request_stop(); // a blocking turn's compactor (its driver)
  if (!job.coroutine)
    return;
  auto& co = *job.coroutine;
  if (!co.stop_compaction)
    co.stop_compaction = why;
  if (auto slot = co.awaiting)
    slot->fail(std::move(why)); // resumes it through the session, at once
}

void abort_turn(session_pointer self, Error why) {
  auto& st = self->state;
  if (!st.running || !st.running->coroutine)
    return; // a blocking turn sees its stop token
  auto& co = *st.running->coroutine;
  if (!co.abort)
    co.abort = why;
  if (auto slot = co.awaiting)
    slot->fail(std::move(why)); // resumes it through the session, at once
}

void end_running(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  abort_turn(self, Error{e, message}); // first: see on_deadline
  if (st.running && st.running->ctx.call->end(e, message, st.running->ctx.number))
    st.running->disposition = Disposition::discard;
}

void CoroutineTurn::suspend(const std::shared_ptr<AwaitSlot>& slot) {
  awaiting = slot;
  slot->resumer(session_ref(self));
  // A call that ended (or was told to stop) before the session heard of it: a cancel that
  // came between the turn's start and the attach of its link, or the parent of a sub-call
  // stopping. The turn must not wait on.
  if (!abort && (job.ctx.call->ended() || job.ctx.call->stop.stop_requested()))
    abort = Error{errc::cancelled, "the call was stopped"};
  if (abort)
    slot->fail(*abort);
  else if (stop_compaction)
    slot->fail(*stop_compaction);
}

void CoroutineTurn::after(std::chrono::steady_clock::duration delay, std::function<void()> fn) {
  self->delayed_send(self, delay, timer_atom::value,
                     std::make_shared<std::function<void()>>(std::move(fn)));
}

void on_timer(session_pointer, const TimerFn& fn) {
  (*fn)();
}

} // namespace agentrt::detail
