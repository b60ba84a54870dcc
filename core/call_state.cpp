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
    request_id(std::move(request.request_id)),
    resumable(request.resumable),
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
  Woken followers;
  {
    MutexLock guard{mu_};
    if (phase_.load(relaxed) == Phase::done)
      return;
    kept_bytes_ += data.size();
    std::shared_ptr<const EventTags> tags;
    if (!source.empty() || !tool.empty()) // forwarded and tool events only
      tags = std::make_shared<const EventTags>(EventTags{std::move(source), std::move(tool)});
    events_.push_back(Record{kind, next_seq_++, std::move(data), std::move(tags),
                             queue_position, error});
    if (!followers_.empty()) {
      relay_locked(events_.back());
      for (auto& f : followers_)
        followers.emplace_back(f, nullptr);
    }
    trim_locked();
  }
  if (pushes)
    deliver();
  else
    cv_.notify_all();
  wake_followers(followers);
}

void CallState::trim_locked() {
  if (keep_events == 0)
    return; // nothing is kept: readers clear what they read
  if (events_.size() <= keep_events && kept_bytes_ <= keep_bytes)
    return;
  // Over the bound: drop read events down to three quarters of it, so trimming (which
  // moves what is left) happens once per many events, not on each.
  std::size_t drop = 0;
  auto bytes = kept_bytes_;
  while (drop < next_read_
         && (events_.size() - drop > keep_events / 4 * 3 || bytes > keep_bytes / 4 * 3)) {
    bytes -= events_[drop].data.size();
    ++drop;
  }
  if (drop == 0)
    return;
  events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(drop));
  next_read_ -= drop;
  kept_bytes_ = bytes;
}

void CallState::relay_locked(const Record& rec) {
  for (auto& f : followers_)
    f->take_relayed(rec);
}

void CallState::take_relayed(const Record& rec) {
  MutexLock guard{mu_};
  if (phase_.load(relaxed) == Phase::done)
    return; // a follower that was cancelled: it reads no more
  kept_bytes_ += rec.data.size();
  events_.push_back(rec);
  next_seq_ = rec.seq + 1; // its own events (a cancel's terminal) go on from the source's
  trim_locked();
}

std::function<void(const Reply&)> CallState::take_outcome(const Reply& reply,
                                                          const Record& terminal) {
  MutexLock guard{mu_};
  if (phase_.load(relaxed) == Phase::done)
    return nullptr;
  reply_ = with_identity(reply);
  events_.push_back(terminal);
  next_seq_ = terminal.seq + 1;
  return finish_locked();
}

Reply CallState::with_identity(const Reply& reply) const {
  Reply r = reply;
  r.session_id = session_id;
  r.agent = agent;
  r.call_id = id;
  r.replayed = replay.load(relaxed);
  return r;
}

void CallState::end_followers_locked(Woken& woken) {
  if (followers_.empty())
    return;
  for (auto& f : followers_)
    woken.emplace_back(f, f->take_outcome(reply_, events_.back()));
  followers_.clear();
}

void CallState::wake() {
  if (pushes)
    deliver();
  cv_.notify_all();
}

void CallState::wake_followers(Woken& woken) {
  for (auto& [f, callback] : woken) {
    f->wake();
    if (callback)
      invoke_callback(callback, f->reply_);
  }
}

Result<void> CallState::add_follower(const CallPtr& follower,
                                     std::optional<std::uint64_t> from) {
  Woken woken;
  {
    MutexLock guard{mu_};
    auto last = next_seq_ - 1;
    auto after_seq = from.value_or(events_.empty() ? last : events_.front().seq - 1);
    if (after_seq > last)
      return Error{errc::invalid_range, "event " + std::to_string(after_seq)
                                          + " is past the last event of call "
                                          + std::to_string(id) + " (" + std::to_string(last)
                                          + ")"};
    auto first_kept = events_.empty() ? next_seq_ : events_.front().seq;
    bool done = phase_.load(relaxed) == Phase::done;
    // A call that keeps nothing has cleared its terminal event once read: its outcome
    // stands for it.
    auto terminal = done && (events_.empty() || !is_terminal(events_.back().kind))
                      ? std::optional<Record>{terminal_record()}
                      : std::nullopt;
    if (terminal && after_seq == last)
      first_kept = last; // only the terminal event is asked for, and it is known
    if (after_seq + 1 < first_kept)
      return Error{errc::events_expired,
                   "events " + std::to_string(after_seq + 1) + " to "
                     + std::to_string(first_kept - 1) + " of call " + std::to_string(id)
                     + " are no longer kept (a call keeps its last "
                     + std::to_string(keep_events) + " events, about "
                     + std::to_string(keep_bytes / 1024) + " KB)"};
    for (auto& rec : events_)
      if (rec.seq > after_seq && !is_terminal(rec.kind)) // the outcome brings the terminal
        follower->take_relayed(rec);
    if (done)
      woken.emplace_back(follower, follower->take_outcome(reply_, terminal ? *terminal
                                                                           : events_.back()));
    else {
      followers_.push_back(follower);
      woken.emplace_back(follower, nullptr);
    }
  }
  wake_followers(woken);
  return {};
}

CallState::Record CallState::terminal_record() const {
  auto kind = !reply_.error ? EventKind::completed
              : reply_.error == errc::cancelled || reply_.error == errc::interrupted
                  || reply_.error == errc::rolled_back
                ? EventKind::cancelled
                : EventKind::failed;
  std::string data = kind == EventKind::completed ? reply_.output : reply_.message;
  return Record{kind, next_seq_ - 1, std::move(data), {}, 0, reply_.error};
}

void CallState::end_replayed(const Reply& reply) {
  complete(false, Effects::none, [&]() AGENTRT_REQUIRES(mu_) {
    reply_ = with_identity(reply);
    bool kept = !reply.error; // completed; an interrupted turn kept its output
    std::string data = kept ? reply_.output : reply_.message;
    events_.push_back(Record{kept ? EventKind::completed : EventKind::cancelled, next_seq_++,
                             std::move(data), {}, 0, reply_.error});
  });
}

Event CallState::to_event(Record& rec) const {
  Event ev;
  ev.kind = rec.kind;
  ev.session_id = session_id;
  ev.call_id = id;
  ev.seq = rec.seq;
  ev.queue_position = rec.queue_position;
  ev.error = rec.error;
  if (is_terminal(rec.kind)) // the reply is stored before its terminal event
    ev.turn = reply_.turn;
  ev.agent = rec.tags && !rec.tags->source.empty() ? rec.tags->source : agent;
  if (rec.tags)
    ev.tool = rec.tags->tool;
  if (keep_events > 0) // kept for followers: copied
    ev.data = rec.data;
  else
    ev.data = std::move(rec.data);
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
        if (keep_events == 0) {
          events_.clear(); // all delivered: a long stream does not keep its past
          next_read_ = 0;
        } else {
          trim_locked();
        }
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
  kept_bytes_ += message.size();
  events_.push_back(
    Record{terminal_kind_for(error), next_seq_++, message, {}, 0, reply_.error});
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
  kept_bytes_ += data.size();
  events_.push_back(Record{terminal, next_seq_++, std::move(data), {}, 0, reply_.error});
}

std::function<void(const Reply&)> CallState::finish_locked() {
  if (resumable) // only kept calls need to know when they ended
    ended_at_ = Clock::now();
  phase_.store(Phase::done, std::memory_order_release);
  if (stripe != nullptr && !replay.load(relaxed)) // a replay ran no turn of its own
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
  if (keep_events == 0 && next_read_ == events_.size()) { // a long stream keeps no past
    events_.clear();
    next_read_ = 0;
  } else {
    trim_locked();
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
  // A completion callback may be reading the reply on another thread, and a follower that
  // attaches later or a retry with the same request id needs it: copy, don't move.
  if (has_callback_ || keep_events > 0 || resumable || !request_id.empty())
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
