#include "actors/session_actor.hpp"

#include "actors/services.hpp"
#include "actors/session/steps.hpp"
#include "actors/session_directory.hpp"
#include "actors/session_ref.hpp"
#include "core/exception_text.hpp"
#include "core/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/logger.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

namespace agentrt::detail {

CallTicket::~CallTicket() {
  if (call_ && !call_->taken.load(std::memory_order_acquire))
    call_->end(errc::internal_error,
               "the session ended before it could take the call; nothing ran");
}

SessionState::~SessionState() {
  if (svc == nullptr)
    return;
  auto e = mode == Mode::closing  ? errc::session_closed
           : mode == Mode::failed ? errc::internal_error
                                  : errc::shutting_down;
  std::string message = mode == Mode::closing  ? "the session was closed"
                        : mode == Mode::failed ? "an internal failure ended the session"
                                               : "the session ended before the call finished";
  for (auto& c : queue.drain())
    c->end(e, message);
  if (running)
    running->ctx.call->end_claimed(e, message, running->ctx.number);
  if (svc->directory && data)
    svc->directory->forget(data->key, hash, id);
  svc->metrics->live.fetch_sub(1, relaxed);
}

namespace {

/// Agent code, stores and callbacks are all guarded; what still escapes a handler is a bug
/// or an exhausted heap. The session then ends and fails every call it holds (the state's
/// destructor) or has in its mailbox (CallTicket), instead of leaving them without an
/// outcome.
caf::error on_exception(session_pointer self, std::exception_ptr& ep) {
  auto& st = self->state;
  st.mode = SessionState::Mode::failed;
  st.svc->log->error("[{}/-] session failed: {}", st.data->key.session_id, exception_text(ep));
  return caf::make_error(caf::sec::runtime_error);
}

} // namespace

session_actor::behavior_type session_behavior(session_pointer self, SessionKey key,
                                              std::shared_ptr<const AgentEntry> entry,
                                              Services* svc, std::size_t hash,
                                              ActivityPtr activity) {
  auto& st = self->state;
  st.svc = svc;
  st.stripe = &svc->metrics->stripe(hash);
  st.queue.count_in(&st.stripe->queued);
  st.hash = hash;
  st.activity = std::move(activity);
  st.data = std::make_shared<SessionData>();
  st.data->key = std::move(key);
  st.data->entry = std::move(entry);
  st.id = self->id();
  st.born = now_ns(self);
  st.calls = CallLog{&svc->call_limits};
  svc->log->debug("[{}/-] session of agent '{}' started", st.data->key.session_id,
                  st.data->key.agent);
  self->set_exception_handler(
    [self](caf::scheduled_actor*, std::exception_ptr& ep) { return on_exception(self, ep); });
  return {
    [self](call_atom, const CallTicket& ticket) { on_call(self, ticket); },
    [self](turn_done_atom, const TurnJobPtr& job) { on_turn_done(self, job); },
    [self](persisted_atom, const TurnJobPtr& job) { on_persisted(self, job); },
    [self](resume_atom, const AwaitSlotPtr& slot) { on_resume(self, slot); },
    [self](timer_atom, const TimerFn& fn) { on_timer(self, fn); },
    [self](withdraw_atom, std::uint64_t id) { on_withdraw(self, id); },
    [self](deadline_atom, std::int64_t tick_ns) { on_deadline(self, tick_ns); },
    [self](expire_atom, std::int64_t observed, std::uint8_t why) {
      on_expire(self, observed, static_cast<ExpireReason>(why));
    },
    [self](close_atom, const ClosePromise& closed) { on_close(self, closed); },
    [self](describe_atom, const DescribePromise& promise) {
      promise->set_value(describe(self));
      end_one_shot(self); // a describe may have kept an idle one-shot session alive
    },
    [self](read_atom, const ConversationReadPtr& read) { on_read(self, read); },
    [self](attach_atom, const AttachPtr& attach) { on_attach(self, attach); },
    [self](drain_atom, std::int64_t drain_ns) { on_drain(self, drain_ns); },
    [self](stop_atom) { on_stop(self); },
  };
}

const std::shared_ptr<SessionRef>& session_ref(session_pointer self) {
  auto& st = self->state;
  if (!st.ref)
    st.ref = std::make_shared<SessionRef>(self->address(), st.svc->gate);
  return st.ref;
}

void release_caf_logger_reference() noexcept {
  caf::logger::set_current_actor_system(nullptr);
}

void quiet_caf_logger_here() noexcept {
  // Once per thread. CAF's worker, on every actor it resumes, saves and restores the
  // "current actor id" in the current logger (a spinlock and a map lookup: 3% of a call in
  // profiles) even though the library is built without logging. Without a current logger
  // it skips that.
  thread_local const bool quiet = (release_caf_logger_reference(), true);
  (void)quiet;
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
    if (svc.config.max_sessions && static_cast<std::size_t>(live) > *svc.config.max_sessions)
      caf::anon_send(sup, evict_atom::value);
  }
  return hdl;
}

} // namespace agentrt::detail
