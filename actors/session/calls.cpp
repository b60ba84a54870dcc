// A session's arriving calls: a call runs at once if the session is free, otherwise its
// busy policy decides (CallQueue). Calls that wait can be withdrawn by their caller and
// time out at their deadline (one timer per session).

#include "actors/session/steps.hpp"

#include "actors/services.hpp"
#include "actors/session_ref.hpp"
#include "core/agent_registry.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

#include <algorithm>

namespace agentrt::detail {

namespace {

std::size_t queue_depth(const SessionState& st) {
  return st.data->entry->options.max_queue_depth.value_or(st.svc->config.max_queue_depth);
}

/// The session is running a turn and `c` arrived: its busy policy decides.
void on_busy(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  auto& running = *st.running;
  auto admission = st.queue.admit(c, queue_depth(st));
  switch (admission.verdict) {
    case CallQueue::Verdict::busy:
      c->end(errc::session_busy,
             "the session is running call " + std::to_string(running.ctx.call->id));
      return;
    case CallQueue::Verdict::overloaded:
      c->end(errc::overloaded,
             "the session's queue is full (" + std::to_string(st.queue.size()) + " calls waiting)");
      return;
    case CallQueue::Verdict::queued:
      break;
    case CallQueue::Verdict::interrupt:
    case CallQueue::Verdict::rollback: {
      // Only the first of several urgent calls acts on the running turn.
      auto& victim = *running.ctx.call;
      bool interrupt = admission.verdict == CallQueue::Verdict::interrupt;
      if (running.compacting.load()) {
        // Its handler is done: nothing to interrupt or roll back. Its compactor stops, so
        // the turn commits (uncompacted) and this call runs next.
        stop_compaction(running, Error{errc::interrupted, "call " + std::to_string(c->id)
                                                            + " is waiting"});
      } else if (running.disposition == Disposition::commit) {
        if (interrupt) {
          running.disposition = Disposition::interrupt;
          victim.stop.request_stop();
          abort_turn(self, Error{errc::interrupted, "interrupted by call " + std::to_string(c->id)});
        } else {
          abort_turn(self, Error{errc::rolled_back, "rolled back by call " + std::to_string(c->id)});
          if (victim.end(errc::rolled_back, "rolled back by call " + std::to_string(c->id),
                         running.ctx.number))
            running.disposition = Disposition::discard;
        }
        st.svc->log->debug("[{}/{}] {} by call {}", victim.session_id, victim.id,
                           interrupt ? "interrupted" : "rolled back", c->id);
      }
      break;
    }
  }
  c->push(EventKind::queued, {}, admission.position);
  c->attach(session_ref(self));
  if (c->ended() && st.queue.withdraw(c->id)) // cancelled before it could be withdrawn
    return update_busy(st);
  arm_deadline(self, c->deadline);
  update_busy(st);
}

/// A call with a request id the session has seen runs no turn: it gets the committed
/// outcome, or follows the call still running with that id; one with another input is
/// refused. True if the call was answered so; false if it runs (its id is recorded).
bool answered_by_request_id(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  auto fingerprint = request_fingerprint(c->input, c->params);
  auto now = std::chrono::system_clock::now();
  auto seen = st.calls.lookup(c->request_id, fingerprint, now);
  using Kind = CallLog::Seen::Kind;
  switch (seen.kind) {
    case Kind::unknown:
      st.calls.begin(c->request_id, fingerprint, c, now);
      return false;
    case Kind::conflict:
      c->end(errc::request_id_reused, "request id '" + c->request_id
                                        + "' was used in this session with a different input");
      return true;
    case Kind::committed:
      c->replay.store(true, relaxed);
      c->end_replayed(seen.outcome);
      break;
    case Kind::running:
      c->replay.store(true, relaxed);
      // From its first event kept (all of them, unless a long stream outgrew the bound).
      if (auto r = seen.call->add_follower(c, std::nullopt); !r) {
        c->replay.store(false, relaxed); // it did not follow: counted as refused
        c->end(static_cast<errc>(r.error().code.value()), r.error().message);
        return true;
      }
      break;
  }
  st.svc->metrics->replays.fetch_add(1, relaxed);
  st.svc->log->debug("[{}/{}] request id {} seen before: {}", c->session_id, c->id,
                     c->request_id, seen.kind == Kind::committed ? "replayed" : "following");
  return true;
}

void handle_call(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (!st.classified) { // the first call says what kind of session this is
    st.data->one_shot = c->one_shot;
    st.data->ephemeral = c->ephemeral;
    st.classified = true;
  }
  if (st.mode != SessionState::Mode::open) {
    if (st.mode == SessionState::Mode::closing)
      c->end(errc::session_closed, "the session was closed");
    else
      c->end(errc::shutting_down, "the runtime is shutting down");
    return;
  }
  if (c->ended()) { // cancelled or timed out on its way here: it must not act
    end_one_shot(self);
    return;
  }
  if (!ensure_loaded(self, c))
    return;
  if (!c->request_id.empty() && answered_by_request_id(self, c))
    return;
  if (c->resumable) // only calls that run a turn: a repeat is attached through its first
    st.calls.remember(c, self->clock().now());
  if (!st.running) {
    start(self, c);
    next(self);
  } else {
    on_busy(self, c);
  }
}

} // namespace

void on_call(session_pointer self, const CallTicket& ticket) {
  quiet_caf_logger_here();
  handle_call(self, ticket.call());
  ticket.handled(); // not reached if handling threw: the dropped message ends the call
}

void on_withdraw(session_pointer self, std::uint64_t id) {
  auto& st = self->state;
  if (st.queue.withdraw(id)) { // already ended by its caller, who counted it
    update_busy(st);
    end_one_shot(self);
    return;
  }
  // A running coroutine turn's call: its pending await ends now, not at its next one.
  if (st.running && st.running->coroutine && st.running->ctx.call->id == id) {
    st.running->disposition = Disposition::discard;
    abort_turn(self, Error{errc::cancelled, "the caller cancelled the call"});
  }
}

/// One timer per session, for the earliest deadline it waits on: calls queued behind each
/// other mostly have later deadlines, so a busy session arms a timer now and then, not one
/// per call (CAF's clock keeps every pending timer in a map).
void arm_deadline(session_pointer self, Clock::time_point deadline) {
  auto& st = self->state;
  if (deadline >= st.timer_at)
    return; // a timer fires earlier; its tick re-arms for what is left
  st.timer_at = deadline;
  auto now = self->clock().now();
  auto delay = deadline > now ? deadline - now : Clock::duration::zero();
  self->delayed_send(self, delay, deadline_atom::value, to_ns(deadline.time_since_epoch()));
}

void on_deadline(session_pointer self, std::int64_t tick_ns) {
  auto& st = self->state;
  if (to_ns(st.timer_at.time_since_epoch()) == tick_ns)
    st.timer_at = Clock::time_point::max();
  auto now = self->clock().now();
  // The running turn's deadline counts while its handler may still run and its call is
  // open: not once the handler is done (an inline or coroutine turn whose end waits behind
  // the mailbox finished in time), nor once a durable store is writing it (claimed).
  bool watched = st.running && !st.running->ended && st.running->ctx.call->open();
  if (watched && st.running->compacting.load()) {
    // The handler finished in time: the deadline stops its compactor, not the turn.
    if (st.running->ctx.call->deadline <= now)
      stop_compaction(*st.running, Error{errc::timeout, "the call's timeout passed while "
                                                        "the history was compacted"});
    watched = false;
  }
  if (watched && st.running->ctx.call->deadline <= now) {
    auto& job = *st.running;
    // The await fails first: once the caller sees the timeout, a completion of what the
    // turn awaited can only be late (ignored).
    abort_turn(self, Error{errc::timeout, "the call's timeout passed"});
    if (job.ctx.call->end(errc::timeout, "the turn did not finish within the call's timeout",
                          job.ctx.number))
      job.disposition = Disposition::discard;
    watched = false;
  }
  auto earliest = st.queue.expire(now, [](const CallPtr& c) {
    c->end(errc::timeout, "the call waited in the queue past its timeout");
  });
  if (watched)
    earliest = std::min(earliest, st.running->ctx.call->deadline);
  if (earliest != Clock::time_point::max())
    arm_deadline(self, earliest);
  update_busy(st);
  end_one_shot(self); // it may have been kept alive by a message that is gone now
}

void next(session_pointer self) {
  auto& st = self->state;
  while (!st.running && !st.queue.empty())
    start(self, st.queue.pop());
  update_busy(st);
  end_one_shot(self);
}

void end_queue(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  for (auto& c : st.queue.drain())
    c->end(e, message);
  update_busy(st);
}

void on_attach(session_pointer self, const AttachPtr& a) {
  auto& st = self->state;
  a->handled = true;
  bool expired = false;
  auto source = st.calls.find(a->call_id, self->clock().now(), expired);
  auto& f = *a->follower;
  if (!source) {
    if (expired)
      f.end(errc::events_expired, "call " + std::to_string(a->call_id) + " ended more than "
                                    + std::to_string(st.svc->config.calls_kept_for.count())
                                    + " ms ago; its events are no longer kept");
    else
      f.end(errc::not_found, "session " + st.data->key.session_id + " has no resumable call "
                               + std::to_string(a->call_id) + " running or recently ended");
  } else if (auto r = source->add_follower(a->follower, a->after_seq == 0
                                                          ? std::nullopt
                                                          : std::optional{a->after_seq});
             !r) {
    f.end(static_cast<errc>(r.error().code.value()), r.error().message);
  }
  end_one_shot(self); // an attach may have kept an idle one-shot session alive
}

} // namespace agentrt::detail
