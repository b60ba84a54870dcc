#pragma once

// EventChannel: a call's pushed events (Request::on_event) as a stream an Asio coroutine
// awaits, for hosts built on Asio (a Beast server, a gRPC bridge):
//
//   auto events = asio_events::EventChannel::make();
//   agentrt::Request r{.agent = "assistant", .session_id = id, .input = text};
//   r.on_event = events->sink();
//   auto call = runtime.invoke(std::move(r));
//   while (auto e = co_await events->async_next(asio::use_awaitable))
//     co_await write_sse(*e);   // queued?, started, chunks..., then the terminal event
//
// No polling: the runtime pushes each event in, and a waiting `async_next` completes on the
// awaiting coroutine's executor. Events wait in the channel while nobody awaits.
//
// Thread-safety: the sink may be called from any thread (the runtime calls it one event at
// a time); one `async_next` may be outstanding at a time.

#include <agentrt/event.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace asio_events {

class EventChannel : public std::enable_shared_from_this<EventChannel> {
public:
  static std::shared_ptr<EventChannel> make() {
    return std::shared_ptr<EventChannel>(new EventChannel);
  }

  /// The callback for `Request::on_event`; it keeps the channel alive while the call lives.
  std::function<void(const agentrt::Event&)> sink() {
    return [self = shared_from_this()](const agentrt::Event& e) { self->push(e); };
  }

  /// Completes with the next event, or with nothing once the call's terminal event has been
  /// taken. Signature: void(std::optional<agentrt::Event>).
  template <class Token>
  auto async_next(Token&& token) {
    return boost::asio::async_initiate<Token, void(std::optional<agentrt::Event>)>(
      [self = shared_from_this()](auto handler) {
        auto ex = boost::asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        // The pending wait counts as work: the executor's run() does not return under it.
        auto work = std::make_shared<decltype(boost::asio::make_work_guard(ex))>(
          boost::asio::make_work_guard(ex));
        self->wait([h, ex, work](std::optional<agentrt::Event> e) {
          boost::asio::post(ex, [h, work, e = std::move(e)]() mutable {
            std::move(*h)(std::move(e));
            work->reset();
          });
        });
      },
      token);
  }

private:
  using Waiter = std::function<void(std::optional<agentrt::Event>)>;

  EventChannel() = default;

  void push(const agentrt::Event& e) {
    std::unique_lock l{mu_};
    if (!waiter_) {
      events_.push_back(e);
      return;
    }
    auto w = std::exchange(waiter_, nullptr);
    finished_ = finished_ || e.terminal();
    l.unlock();
    w(e);
  }

  void wait(Waiter w) {
    std::unique_lock l{mu_};
    if (events_.empty() && !finished_) {
      waiter_ = std::move(w);
      return;
    }
    std::optional<agentrt::Event> next;
    if (!events_.empty()) {
      next = std::move(events_.front());
      events_.pop_front();
      finished_ = finished_ || next->terminal();
    }
    l.unlock();
    w(std::move(next));
  }

  std::mutex mu_;
  std::deque<agentrt::Event> events_; // guarded by mu_
  Waiter waiter_;                     // guarded by mu_
  bool finished_ = false;             // the terminal event was handed out; guarded by mu_
};

} // namespace asio_events
