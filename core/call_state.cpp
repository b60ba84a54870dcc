#include "core/call_state.hpp"

#include "core/metrics.hpp"

#include <thread>
#include <utility>

namespace agentrt::detail {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

EventKind terminal_kind_for(errc e) noexcept {
  switch (e) {
    case errc::cancelled:
    case errc::interrupted:
    case errc::rolled_back:
      return EventKind::cancelled;
    default:
      return EventKind::failed;
  }
}

/// Which counter a call's outcome goes to. A call the session accepted (queued or
/// started) and then lost to close, shutdown or a failure was cancelled; one refused before
/// that was rejected.
std::atomic<std::uint64_t>& outcome_counter(MetricStripe& s, const std::error_code& ec,
                                            bool admitted) noexcept {
  if (!ec)
    return s.completed;
  switch (static_cast<errc>(ec.value())) {
    case errc::cancelled:
    case errc::interrupted:
    case errc::rolled_back:
    case errc::timeout:
      return s.cancelled;
    case errc::agent_failed:
      return s.failed;
    case errc::store_failed:
      return admitted ? s.failed : s.rejected;
    case errc::session_closed:
    case errc::shutting_down:
    case errc::internal_error:
      return admitted ? s.cancelled : s.rejected;
    default:
      return s.rejected;
  }
}

/// A host's completion callback runs on a runtime thread: whatever it throws stays there.
void invoke_callback(const std::function<void(const Reply&)>& fn, const Reply& reply) noexcept {
  try {
    fn(reply);
  } catch (...) {
    // the callback's own failure; the call's outcome stands
  }
}

} // namespace

CallState::CallState(std::uint64_t id_, Request&& request, Clock::time_point invoked_,
                     Clock::duration timeout, MetricStripe* stripe_)
  : id(id_),
    agent(std::move(request.agent)),
    session_id(std::move(request.session_id)),
    input(std::move(request.input)),
    params(std::move(request.params)),
    on_busy(request.on_busy),
    invoked(invoked_),
    deadline(invoked_ + timeout),
    stripe(stripe_),
    pushes(static_cast<bool>(request.on_event)),
    cancel_on_drop(request.cancel_on_drop),
    sink_(std::move(request.on_event)) {
  reply_.session_id = session_id;
  reply_.call_id = id;
  reply_.agent = agent;
}

void CallState::push(EventKind kind, std::string data, std::size_t queue_position,
                     std::string source, std::string tool, std::error_code error) {
  // A sub-call's body events also go to its parent's stream, named after the sub-agent. Its
  // queued and started events stay its own: the parent's stream keeps its grammar (one
  // started, then body events, then one terminal), and the sub-call's outcome is ask()'s.
  if (forward_to && kind != EventKind::queued && kind != EventKind::started)
    forward_to->push(kind, data, 0, source.empty() ? agent : source, tool, error);
  {
    MutexLock guard{mu_};
    if (phase_.load(relaxed) == Phase::done)
      return;
    events_.push_back(Record{kind, next_seq_++, std::move(data), std::move(source),
                             std::move(tool), queue_position, error});
  }
  if (pushes)
    deliver();
  else
    cv_.notify_all();
}

Event CallState::to_event(Record& rec) const {
  Event ev;
  ev.kind = rec.kind;
  ev.session_id = session_id;
  ev.call_id = id;
  ev.seq = rec.seq;
  ev.agent = rec.source.empty() ? agent : std::move(rec.source);
  ev.tool = std::move(rec.tool);
  ev.data = std::move(rec.data);
  ev.queue_position = rec.queue_position;
  ev.error = rec.error;
  return ev;
}

void CallState::deliver() {
  boost::container::small_vector<Event, 4> batch;
  std::function<void(const Event&)> released; // destroyed here, outside the lock
  {
    MutexLock guard{mu_};
    if (delivering_)
      return; // the thread delivering now also delivers what was just added
    delivering_ = true;
  }
  for (;;) {
    batch.clear();
    {
      MutexLock guard{mu_};
      for (; next_read_ < events_.size(); ++next_read_) {
        batch.push_back(to_event(events_[next_read_]));
        terminal_read_ = terminal_read_ || batch.back().terminal();
      }
      if (batch.empty()) {
        events_.clear(); // all delivered: a long stream does not keep its past
        next_read_ = 0;
        delivering_ = false;
        if (terminal_read_)
          released = std::exchange(sink_, nullptr); // nothing comes after the terminal event
        break;
      }
    }
    for (auto& e : batch) {
      try {
        sink_(e);
      } catch (...) {
        // the consumer's own failure; the call goes on
      }
    }
  }
}

void CallState::fail_locked(errc error, std::string message, std::uint64_t turn) {
  reply_.error = make_error_code(error);
  reply_.turn = turn;
  events_.push_back(
    Record{terminal_kind_for(error), next_seq_++, message, {}, {}, 0, reply_.error});
  reply_.message = std::move(message);
}

void CallState::store_reply_locked(Reply reply, EventKind terminal) {
  reply.session_id = std::move(reply_.session_id);
  reply.agent = std::move(reply_.agent);
  reply.call_id = id;
  reply_ = std::move(reply);
  // The completed event carries the output; an interrupted turn's cancelled event says
  // why it ended (the kept partial output stays in the Reply).
  std::string data = terminal == EventKind::completed ? reply_.output : reply_.message;
  events_.push_back(Record{terminal, next_seq_++, std::move(data), {}, {}, 0, reply_.error});
}

std::function<void(const Reply&)> CallState::finish_locked() {
  phase_.store(Phase::done, std::memory_order_release);
  if (stripe != nullptr)
    outcome_counter(*stripe, reply_.error, admitted.load(relaxed)).fetch_add(1, relaxed);
  return std::move(on_done_);
}

void CallState::after_complete(std::function<void(const Reply&)> callback, bool stop_turn,
                               SessionLink* link) {
  if (stop_turn)
    stop.request_stop();
  if (pushes)
    deliver();
  cv_.notify_all();
  if (link != nullptr)
    link->withdraw(id);
  if (callback)
    invoke_callback(callback, reply_);
}

bool CallState::claim() {
  MutexLock guard{mu_};
  if (phase_.load(relaxed) != Phase::open)
    return false;
  phase_.store(Phase::claimed, relaxed);
  return true;
}

void CallState::attach(std::shared_ptr<SessionLink> link) {
  MutexLock guard{mu_};
  if (phase_.load(relaxed) != Phase::done)
    link_ = std::move(link);
}

bool CallState::cancel() {
  return complete(false, Effects::stop_and_withdraw, [&]() AGENTRT_REQUIRES(mu_) {
    fail_locked(errc::cancelled, "the caller cancelled the call", 0);
  });
}

std::optional<Event> CallState::next_event(std::optional<Clock::duration> wait) {
  if (pushes)
    return std::nullopt;
  CondLock lock{mu_};
  auto ready = [this]() AGENTRT_REQUIRES(mu_) {
    return next_read_ < events_.size() || terminal_read_;
  };
  if (wait) {
    if (!cv_.wait_for(lock.get(), *wait, ready))
      return std::nullopt;
  } else {
    cv_.wait(lock.get(), ready);
  }
  if (next_read_ == events_.size())
    return std::nullopt; // the terminal event was already returned
  auto ev = to_event(events_[next_read_++]);
  if (ev.terminal())
    terminal_read_ = true;
  if (next_read_ == events_.size()) { // all read: a long stream does not keep its past
    events_.clear();
    next_read_ = 0;
  }
  return ev;
}

bool CallState::stream_ended() const {
  MutexLock guard{mu_};
  return terminal_read_;
}

bool CallState::wait_done(std::optional<Clock::duration> wait) const {
  // A fast turn is often done within microseconds: look for a short while before going to
  // sleep on the condition variable, whose wake-up alone costs tens of microseconds here.
  if (!ended()) {
    auto until = Clock::now() + std::chrono::microseconds(20);
    if (wait && *wait < std::chrono::microseconds(20))
      until = Clock::now() + *wait;
    while (!ended() && Clock::now() < until)
      std::this_thread::yield();
  }
  if (ended())
    return true;
  CondLock lock{mu_};
  auto done = [this] { return ended(); };
  if (wait)
    return cv_.wait_for(lock.get(), *wait, done);
  cv_.wait(lock.get(), done);
  return true;
}

Reply CallState::take_reply() {
  wait_done(std::nullopt);
  MutexLock guard{mu_};
  // A completion callback may be reading the reply on another thread: copy, don't move.
  if (has_callback_)
    return reply_;
  return std::move(reply_);
}

void CallState::on_done(std::function<void(const Reply&)> fn) {
  {
    MutexLock guard{mu_};
    has_callback_ = true;
    if (phase_.load(relaxed) != Phase::done) {
      on_done_ = std::move(fn);
      return;
    }
  }
  if (fn)
    invoke_callback(fn, reply_);
}

} // namespace agentrt::detail
