// A session's durable commit: with a write-through store, the session claims the call (no
// cancel or timeout can end it now), hands the turn's record to the store and stays busy
// until `persisted` comes back; only then is the turn applied in memory and the reply
// released. The store may commit many sessions' turns in one transaction.

#include "actors/session/steps.hpp"

#include "actors/services.hpp"
#include "core/executor.hpp"
#include "core/metrics.hpp"

#include "stores/guarded_store.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

namespace agentrt::detail {

void persist(session_pointer self, TurnJobPtr job, TurnContext& ctx, Reply reply,
             EventKind terminal) {
  auto& st = self->state;
  // The job first (an inline turn's context moves into it): once the call is claimed only
  // this session can end it, so nothing that can throw comes between the claim and
  // `running`.
  if (!job)
    job = std::make_shared<TurnJob>(std::move(ctx));
  if (!job->ctx.call->claim()) {
    st.svc->log->debug("[{}/{}] turn {} discarded: the call had already ended",
                       job->ctx.call->session_id, job->ctx.call->id, job->ctx.number);
    return;
  }
  // Running from the claim on: whatever happens next, the session (or its destructor)
  // still owns the claimed call and ends it.
  st.running = job;
  update_busy(st);
  try {
    job->record = std::make_shared<TurnRecord>(make_record(*st.data, job->ctx));
    if (auto& c = *job->ctx.call; !c.request_id.empty()) // stored with the turn it names
      job->record->request =
        StoredRequest{c.request_id, request_fingerprint(c.input, c.params), job->ctx.number,
                      reply.output, terminal != EventKind::completed,
                      job->record->last_activity};
  } catch (const std::exception& e) {
    job->ctx.call->end_claimed(errc::store_failed, e.what(), job->ctx.number);
    st.running.reset();
    return;
  }
  job->reply = std::move(reply);
  job->terminal = terminal;
  st.svc->store->commit(job->record, [job, addr = self->address(),
                                      gate = st.svc->gate](Result<void> r) {
    job->persisted = std::move(r);
    gate->pass([&] {
      if (auto hdl = caf::actor_cast<session_actor>(addr))
        caf::anon_send(hdl, persisted_atom::value, job);
    });
  });
}

namespace {

/// The commit was fenced: another node took the session over. Nothing of the turn was
/// written; the calls waiting here would be fenced too, so they end now (the client retries,
/// and the proxy or the error's address leads it to the owner), and what this actor holds is
/// forgotten: a later call here claims the session again from the store.
void lose_lease(session_pointer self, CallState& c, std::uint64_t turn, const std::string& why) {
  auto& st = self->state;
  c.end_claimed(errc::lease_lost, why, turn, [&] {
    st.svc->log->warn("[{}/{}] turn {} not committed: {}", c.session_id, c.id, turn, why);
  });
  end_queue(self, errc::lease_lost,
            "the session moved to another node before this call ran; retry");
  drop_stale(self);
}

} // namespace

void on_persisted(session_pointer self, const TurnJobPtr& job) {
  auto& st = self->state;
  if (job != st.running)
    return; // its call was already ended (close, shutdown)
  st.running.reset();
  auto& c = *job->ctx.call;
  auto& log = *st.svc->log;
  if (job->persisted) {
    c.commit_claimed(
      [&] {
        apply_record(*st.data, std::move(*job->record));
        log.debug("[{}/{}] turn {} committed", c.session_id, c.id, job->ctx.number);
      },
      std::move(job->reply), job->terminal);
  } else if (job->persisted.error().code == errc::lease_lost) {
    lose_lease(self, c, job->ctx.number, job->persisted.error().message);
  } else {
    auto why = job->persisted.error().message;
    c.end_claimed(errc::store_failed, "the session store could not save the turn: " + why,
                  job->ctx.number, [&] {
                    log.warn("[{}/{}] turn {} not saved: {}", c.session_id, c.id,
                             job->ctx.number, why);
                  });
    // The write may have landed all the same (the connection broke after the store took
    // it): what the store holds decides. The waiting calls end too, and the session loads
    // again (now, or on the next call if the store is still down), so a retry of this
    // call finds its turn if it was committed.
    end_queue(self, errc::store_failed,
              "the session store failed while saving an earlier turn of this session; retry");
    drop_stale(self);
    (void)load_stored(self, c.id);
  }
  touch(st, self->clock().now());
  after_turn(self);
}

/// If the write lands anyway, a close erases it after (its erase queues behind the write);
/// at shutdown it may stay (documented).
void abandon_persisting(session_pointer self, errc e, const std::string& message) {
  auto& st = self->state;
  auto& job = *st.running;
  job.ctx.call->end_claimed(e, message, job.ctx.number);
}

} // namespace agentrt::detail
