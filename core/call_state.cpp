#include "core/call_state.hpp"

#include <thread>

namespace agentrt::detail {

namespace {

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

} // namespace

CallState::CallState(std::uint64_t id_, Request&& request, Clock::time_point invoked_,
                     Clock::duration timeout)
  : id(id_),
    agent(std::move(request.agent)),
    session_id(std::move(request.session_id)),
    input(std::move(request.input)),
    params(std::move(request.params)),
    on_busy(request.on_busy),
    invoked(invoked_),
    deadline(invoked_ + timeout) {
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
    std::lock_guard guard{mu_};
    if (done_)
      return;
    events_.push_back(Record{kind, next_seq_++, std::move(data), std::move(source),
                             std::move(tool), queue_position, error});
  }
  cv_.notify_all();
}

std::function<void(const Reply&)> CallState::complete_locked(EventKind terminal,
                                                             std::error_code error,
                                                             std::string data) {
  done_ = true;
  ended_.store(true, std::memory_order_release);
  events_.push_back(Record{terminal, next_seq_++, std::move(data), {}, {}, 0, error});
  link_.reset();
  return std::move(on_done_);
}

namespace {

/// A host's completion callback runs on a runtime thread: whatever it throws stays there.
void invoke_callback(const std::function<void(const Reply&)>& fn, const Reply& reply) noexcept {
  try {
    fn(reply);
  } catch (...) {
    // the callback's own failure; the call's outcome stands
  }
}

} // namespace

std::function<void(const Reply&)> CallState::commit_locked(const std::function<void()>& commit,
                                                           Reply reply, EventKind terminal) {
  commit();
  reply.session_id = std::move(reply_.session_id);
  reply.agent = std::move(reply_.agent);
  reply.call_id = id;
  reply_ = std::move(reply);
  // The completed event carries the output; an interrupted turn's cancelled event says
  // why it ended (the kept partial output stays in the Reply).
  std::string data = terminal == EventKind::completed ? reply_.output
                                                      : std::string{reply_.message};
  return complete_locked(terminal, reply_.error, std::move(data));
}

void CallState::run_callback(std::function<void(const Reply&)> fn) {
  cv_.notify_all();
  if (fn)
    invoke_callback(fn, reply_);
}

bool CallState::finish_if_open(errc error, std::string message, std::uint64_t turn,
                               const std::function<void()>& before) {
  std::function<void(const Reply&)> fn;
  {
    std::lock_guard guard{mu_};
    if (done_ || claimed_)
      return false;
    if (before)
      before();
    reply_.error = make_error_code(error);
    reply_.message = message;
    reply_.turn = turn;
    fn = complete_locked(terminal_kind_for(error), reply_.error, std::move(message));
  }
  stop.request_stop();
  run_callback(std::move(fn));
  return true;
}

bool CallState::commit_and_complete(const std::function<void()>& commit, Reply reply,
                                    EventKind terminal) {
  std::function<void(const Reply&)> fn;
  {
    std::lock_guard guard{mu_};
    if (done_ || claimed_)
      return false;
    fn = commit_locked(commit, std::move(reply), terminal);
  }
  run_callback(std::move(fn));
  return true;
}

bool CallState::claim() {
  std::lock_guard guard{mu_};
  if (done_ || claimed_)
    return false;
  claimed_ = true;
  return true;
}

void CallState::complete_claimed(const std::function<void()>& commit, Reply reply,
                                 EventKind terminal) {
  std::function<void(const Reply&)> fn;
  {
    std::lock_guard guard{mu_};
    if (done_)
      return;
    fn = commit_locked(commit, std::move(reply), terminal);
  }
  run_callback(std::move(fn));
}

void CallState::fail_claimed(errc error, std::string message, std::uint64_t turn,
                             const std::function<void()>& before) {
  std::function<void(const Reply&)> fn;
  {
    std::lock_guard guard{mu_};
    if (done_)
      return;
    if (before)
      before();
    reply_.error = make_error_code(error);
    reply_.message = message;
    reply_.turn = turn;
    fn = complete_locked(EventKind::failed, reply_.error, std::move(message));
  }
  stop.request_stop();
  run_callback(std::move(fn));
}

bool CallState::done() const {
  std::lock_guard guard{mu_};
  return done_;
}

void CallState::attach(std::shared_ptr<SessionLink> link) {
  std::lock_guard guard{mu_};
  if (!done_)
    link_ = std::move(link);
}

bool CallState::cancel() {
  std::shared_ptr<SessionLink> link;
  std::function<void(const Reply&)> fn;
  {
    std::lock_guard guard{mu_};
    if (done_ || claimed_)
      return false;
    link = link_;
    reply_.error = make_error_code(errc::cancelled);
    reply_.message = "the caller cancelled the call";
    fn = complete_locked(EventKind::cancelled, reply_.error, reply_.message);
  }
  stop.request_stop();
  if (link)
    link->withdraw(id);
  run_callback(std::move(fn));
  return true;
}

std::optional<Event> CallState::next_event(std::optional<Clock::duration> wait) {
  std::unique_lock lock{mu_};
  auto ready = [this] { return next_read_ < events_.size() || terminal_read_; };
  if (wait) {
    if (!cv_.wait_for(lock, *wait, ready))
      return std::nullopt;
  } else {
    cv_.wait(lock, ready);
  }
  if (next_read_ == events_.size())
    return std::nullopt; // the terminal event was already returned
  auto& rec = events_[next_read_++];
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
  if (ev.terminal())
    terminal_read_ = true;
  if (next_read_ == events_.size()) { // all read: a long stream does not keep its past
    events_.clear();
    next_read_ = 0;
  }
  return ev;
}

bool CallState::stream_ended() const {
  std::lock_guard guard{mu_};
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
  std::unique_lock lock{mu_};
  if (wait)
    return cv_.wait_for(lock, *wait, [this] { return done_; });
  cv_.wait(lock, [this] { return done_; });
  return true;
}

Reply CallState::take_reply() {
  wait_done(std::nullopt);
  std::lock_guard guard{mu_};
  // A completion callback may be reading the reply on another thread: copy, don't move.
  if (has_callback_)
    return reply_;
  return std::move(reply_);
}

void CallState::on_done(std::function<void(const Reply&)> fn) {
  {
    std::lock_guard guard{mu_};
    has_callback_ = true;
    if (!done_) {
      on_done_ = std::move(fn);
      return;
    }
  }
  if (fn)
    invoke_callback(fn, reply_);
}

} // namespace agentrt::detail
