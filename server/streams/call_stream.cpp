#include "streams/call_stream.hpp"

#include "api/errors.hpp"
#include "api/json_views.hpp"
#include "http/error_response.hpp"
#include "server_context.hpp"

#include <agentrt/errors.hpp>

namespace agentrt::server::detail {

namespace {

/// A first event that fails with one of these never had a stream to speak of: the call
/// was refused by its session (a new call), or there was nothing to attach to. A call's own
/// failure (agent_failed, timeout, ...) on a resumed stream is an event like any other.
bool refused_before_start(const std::error_code& e) {
  return e == errc::not_found || e == errc::invalid_range || e == errc::events_expired
         || e == errc::invalid_session_id || e == errc::unknown_agent;
}

} // namespace

CallStream::CallStream(ServerContext& ctx, const ExchangePtr& ex,
                       std::shared_ptr<CallTable::Entry> entry, bool resumed,
                       std::uint64_t after_seq)
  : ctx_(ctx), gate_(ctx.gate), ex_(ex), parked_(ex.get()), entry_(std::move(entry)),
    resumed_(resumed), after_seq_(after_seq) {
  ctx_.park(ex);
}

std::function<void(const Event&)> CallStream::callback() {
  return [self = shared_from_this()](const Event& e) {
    self->gate_->run([&] { self->on_event(e); });
  };
}

std::shared_ptr<Exchange> CallStream::take_exchange() {
  if (answered_.exchange(true))
    return nullptr;
  auto ex = ex_.lock();
  ctx_.unpark(parked_);
  return ex;
}

void CallStream::refused(const Error& error) {
  gate_->run([&] {
    if (auto ex = take_exchange())
      ex->respond(error_of(error));
  });
}

void CallStream::on_event(const Event& e) {
  if (!sink_) {
    // A new call whose first event is a failure was refused by its session (busy,
    // overloaded, ...): it gets its status, not a 200 stream.
    if (e.terminal() && e.error && (!resumed_ || refused_before_start(e.error))) {
      if (auto ex = take_exchange()) {
        ex->session(e.session_id);
        ex->respond(error_response(status_for(e.error), code_name(e.error),
                                   client_message(ctx_, e.error, e.data, e.session_id,
                                                  e.call_id)));
      }
      return;
    }
    if (resumed_ && e.seq <= after_seq_) {
      if (!e.terminal())
        return;
      // The client has the terminal event: 204 tells EventSource not to reconnect.
      if (auto ex = take_exchange()) {
        ex->session(e.session_id);
        ex->respond(Response{204, "", "", {}});
      }
      return;
    }
    open(e);
    if (!sink_)
      return;
  } else if (e.seq <= after_seq_) {
    return;
  }
  sink_->write(sse_frame(ctx_, e));
  if (e.terminal())
    sink_->finish();
}

void CallStream::open(const Event& first) {
  auto ex = take_exchange();
  if (!ex)
    return;
  ex->session(first.session_id);
  std::weak_ptr<CallStream> weak = weak_from_this();
  sink_ = ex->open_stream({{"X-Call-Id", std::to_string(first.call_id)}},
                          [weak, gate = gate_] {
                            gate->run([&] {
                              if (auto self = weak.lock())
                                self->on_client_gone();
                            });
                          });
  sink_->write("retry: " + std::to_string(ctx_.config.sse_retry.count()) + "\n\n");
}

void CallStream::on_client_gone() {
  if (entry_)
    ctx_.calls.detach(entry_);
}

} // namespace agentrt::server::detail
