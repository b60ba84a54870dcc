// A session's arriving calls: a call runs at once if the session is free, otherwise its
// busy policy decides (CallQueue). Calls that wait can be withdrawn by their caller and
// time out at their deadline (one timer per session).

#include "actors/session/steps.hpp"

#include "actors/services.hpp"
#include "core/agent_registry.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

#include <algorithm>

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

namespace {

void link_call(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (!st.link)
    st.link = std::make_shared<WithdrawLink>(self->address());
  c->attach(st.link);
}

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
      if (running.disposition == Disposition::commit) {
        if (interrupt) {
          running.disposition = Disposition::interrupt;
          victim.stop.request_stop();
        } else if (victim.end(errc::rolled_back, "rolled back by call " + std::to_string(c->id),
                              running.ctx.number)) {
          running.disposition = Disposition::discard;
        }
        st.svc->log->debug("[{}/{}] {} by call {}", victim.session_id, victim.id,
                           interrupt ? "interrupted" : "rolled back", c->id);
      }
      break;
    }
  }
  c->push(EventKind::queued, {}, admission.position);
  link_call(self, c);
  arm_deadline(self, c->deadline);
  update_busy(st);
}

void handle_call(session_pointer self, const CallPtr& c) {
  auto& st = self->state;
  if (st.mode != SessionState::Mode::open) {
    if (st.mode == SessionState::Mode::closing)
      c->end(errc::session_closed, "the session was closed");
    else
      c->end(errc::shutting_down, "the runtime is shutting down");
    return;
  }
  if (c->ended()) // cancelled or timed out on its way here: it must not act
    return;
  if (!ensure_loaded(self, c))
    return;
  if (!st.running) {
    start(self, c);
    next(self);
  } else {
    on_busy(self, c);
  }
}

} // namespace

void on_call(session_pointer self, const CallTicket& ticket) {
  handle_call(self, ticket.call());
  ticket.handled(); // not reached if handling threw: the dropped message ends the call
}

void on_withdraw(session_pointer self, std::uint64_t id) {
  auto& st = self->state;
  if (st.queue.withdraw(id)) // already ended by its caller, who counted it
    update_busy(st);
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
  if (st.running) {
    auto& job = *st.running;
    if (job.ctx.call->deadline <= now
        && job.ctx.call->end(errc::timeout, "the turn did not finish within the call's timeout",
                             job.ctx.number))
      job.disposition = Disposition::discard;
  }
  auto earliest = st.queue.expire(now, [](const CallPtr& c) {
    c->end(errc::timeout, "the call waited in the queue past its timeout");
  });
  if (st.running && !st.running->ctx.call->ended())
    earliest = std::min(earliest, st.running->ctx.call->deadline);
  if (earliest != Clock::time_point::max())
    arm_deadline(self, earliest);
  update_busy(st);
}

void next(session_pointer self) {
  auto& st = self->state;
  while (!st.running && !st.queue.empty())
    start(self, st.queue.pop());
  update_busy(st);
  if (!st.running && st.data->one_shot && st.mode == SessionState::Mode::open)
    end_one_shot(self);
}

void end_queue(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  for (auto& c : st.queue.drain())
    c->end(e, message);
  update_busy(st);
}

} // namespace agentrt::detail
