#include "streams/call_stream.hpp"

#include "api/errors.hpp"
#include "api/json_views.hpp"
#include "http/error_response.hpp"
#include "server_context.hpp"

#include <agentrt/errors.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace agentrt::server::detail {

namespace {

/// A first event that fails with one of these never had a stream to speak of: there was
/// nothing to attach to. A call's own failure (agent_failed, timeout, ...) on a resumed
/// stream is an event like any other.
bool refused_before_start(const std::error_code& e) {
  return e == errc::not_found || e == errc::invalid_range || e == errc::events_expired
         || e == errc::invalid_session_id || e == errc::unknown_agent;
}

} // namespace

CallStream::CallStream(ServerContext& ctx, const ExchangePtr& ex,
                       std::shared_ptr<CallTable::Entry> entry, bool resumed,
                       std::uint64_t call_id, std::uint64_t after_seq)
  : ctx_(ctx), gate_(ctx.gate), ex_(ex), parked_(ex.get()), entry_(std::move(entry)),
    resumed_(resumed), call_id_(call_id), after_seq_(after_seq) {
  attached_ = entry_ != nullptr;
  ctx_.park(ex);
}

std::function<void(const Event&)> CallStream::callback() {
  return [self = shared_from_this()](const Event& e) {
    self->gate_->run([&] { self->on_event(e); });
  };
}

std::shared_ptr<Exchange> CallStream::take_locked() {
  if (answered_)
    return nullptr;
  answered_ = true;
  auto ex = ex_.lock();
  ctx_.unpark(parked_);
  return ex;
}

void CallStream::answer_locked(Response r, std::string_view session) {
  auto ex = take_locked();
  if (!ex)
    return;
  ex->session(std::string{session});
  ex->respond(std::move(r));
}

/// This stream no longer follows the call: a grace timer may cancel it now.
void CallStream::release_locked() {
  if (!attached_)
    return;
  attached_ = false;
  ctx_.calls.detach(entry_);
}

void CallStream::refused(const Error& error) {
  gate_->run([&] {
    std::lock_guard guard{mu_};
    auto ex = ex_.lock();
    answer_locked(error_of(ctx_, error), ex ? ex->session() : std::string{});
    if (resumed_)
      release_locked();
  });
}

void CallStream::hold(Call handle, std::chrono::milliseconds wait) {
  {
    std::lock_guard guard{mu_};
    handle_ = std::move(handle);
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(ctx_.io, wait);
  timer->async_wait([self = shared_from_this(), timer](boost::system::error_code ec) {
    if (ec)
      return;
    self->gate_->run([&] {
      std::lock_guard guard{self->mu_};
      if (!self->answered_)
        self->open_locked(self->call_id_);
    });
  });
}

void CallStream::on_event(const Event& e) {
  std::lock_guard guard{mu_};
  if (!sink_) {
    if (answered_)
      return; // answered with an error already; the call's end changes nothing
    // A new call whose first event is a failure was refused by its session (busy,
    // overloaded, ...): it gets its status, not a 200 stream.
    if (e.terminal() && e.error && (!resumed_ || refused_before_start(e.error))) {
      auto refusal = error_response(status_for(e.error), code_name(e.error),
                                    client_message(ctx_, e.error, e.data, e.session_id,
                                                   e.call_id));
      add_retry_headers(refusal.headers, e.error, e.data);
      answer_locked(std::move(refusal), e.session_id);
      if (resumed_)
        release_locked();
      return;
    }
    if (resumed_ && e.seq <= after_seq_) {
      if (!e.terminal())
        return;
      // The client has the terminal event: 204 tells EventSource not to reconnect.
      answer_locked(Response{204, "", "", {}}, e.session_id);
      release_locked();
      return;
    }
    open_locked(e.call_id);
    if (!sink_)
      return;
  } else if (e.seq <= after_seq_) {
    return;
  }
  sink_->write(sse_frame(ctx_, e));
  if (e.terminal())
    sink_->finish();
}

void CallStream::open_locked(std::uint64_t call_id) {
  auto ex = take_locked();
  if (!ex)
    return;
  std::weak_ptr<CallStream> weak = weak_from_this();
  sink_ = ex->open_stream({{"X-Call-Id", std::to_string(call_id)}}, [weak, gate = gate_] {
    gate->run([&] {
      if (auto self = weak.lock())
        self->on_client_gone();
    });
  });
  sink_->write("retry: " + std::to_string(ctx_.config.sse_retry.count()) + "\n\n");
}

void CallStream::on_client_gone() {
  Call handle;
  {
    std::lock_guard guard{mu_};
    release_locked();
    handle = std::move(handle_);
  }
  // Stops following (a resumed stream); never the call itself. From the io_context, not
  // here: this runs inside the gate, and the follower's last event, which the cancel
  // delivers on the cancelling thread, enters the gate too.
  if (handle.valid())
    boost::asio::post(ctx_.io, [h = std::make_shared<Call>(std::move(handle))] { h->cancel(); });
}

} // namespace agentrt::server::detail
