#pragma once

// AsyncTurn: what a coroutine agent's handler sees. It offers everything a Turn offers
// (TurnBase: the call, history, state, the event stream, stopping) and, instead of calls
// that block a thread, awaitables:
//
//   agentrt::Task<std::string> handle(agentrt::AsyncTurn& t) {
//     t.phase("thinking");
//     co_await t.sleep(std::chrono::milliseconds(100));            // a timer, no thread
//     auto weather = co_await t.call_tool("weather", t.input());   // ToolResult
//     auto hotel = co_await t.ask("hotel", t.input());             // Reply
//     auto answer = co_await t.wait_for<std::string>(start_model_request);  // any async client
//     co_return answer.value_or("no answer");
//   }
//
// The handler runs on its session's actor, serialized with everything else of that
// session; while it waits it holds no thread and the session is busy (calls queue and busy
// policies apply as for any turn). Code between awaits must not block: it holds an actor
// worker. When the call is cancelled, times out, is interrupted, rolled back or closed, or
// the runtime shuts down, the pending await completes at once with that error and so does
// every later one; the handler should return (what it returns is discarded, except for an
// interrupted turn, whose output is kept). A session that must end before the handler
// returns (close, the end of a shutdown drain) destroys the coroutine at its suspension
// point: its locals are destroyed, nothing after the await runs.
//
// Thread-safety: an AsyncTurn belongs to its turn's coroutine; it must not be used after
// the handler's Task is done, nor from another thread (a Completion is the way in).

#include <agentrt/await.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/task.hpp>
#include <agentrt/tool.hpp>
#include <agentrt/turn.hpp>

#include <chrono>
#include <coroutine>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace agentrt {

namespace detail {

/// Starts the sub-calls of an `ask_all` awaited by `slot` (see AsyncTurn::ask_all).
void start_subcalls(TurnContext& ctx, AwaitContext* context, std::vector<SubRequest> requests,
                    const std::shared_ptr<ValueSlot<std::vector<Reply>>>& slot);

/// Replies for sub-calls that never ran because the turn stopped first.
std::vector<Reply> replies_for_stop(const TurnContext& ctx, const std::vector<std::string>& agents,
                                    const Error& why);

/// A tool call of a coroutine turn, as the turn's context resolved it.
struct ToolStart {
  /// The outcome, when it is known at once (a non-blocking tool ran; unknown tool...).
  std::optional<ToolResult> ready;
  /// A coroutine tool's request (kept here: the tool's coroutine refers to it while it
  /// runs) and its Task, run in the turn's coroutine chain.
  std::unique_ptr<ToolRequest> request;
  Task<ToolResult> task;
  /// A coroutine tool's own timeout (ToolOptions::timeout), when it has one.
  std::optional<std::chrono::steady_clock::duration> timeout;
  /// Starts a blocking tool on the pool, completing `slot`.
  std::function<void(AwaitContext*, const std::shared_ptr<ValueSlot<std::string>>&)> start;
};

/// The context of a coroutine tool with a timeout: it passes everything to the turn's
/// context and, once the timeout passes, fails the tool's pending await and every later
/// one with `why`. Used on the turn's thread only.
class ToolDeadline final : public AwaitContext, public std::enable_shared_from_this<ToolDeadline> {
public:
  ToolDeadline(AwaitContext* parent, Error why) : parent_(parent), why_(std::move(why)) {
    // nop
  }
  void suspend(const std::shared_ptr<AwaitSlot>& slot) override;
  void after(std::chrono::steady_clock::duration delay, std::function<void()> fn) override;
  /// Starts the timer.
  void arm(std::chrono::steady_clock::duration timeout);
  bool expired() const noexcept {
    return expired_;
  }
  const Error& why() const noexcept {
    return why_;
  }

private:
  AwaitContext* parent_;
  Error why_;
  std::weak_ptr<AwaitSlot> pending_;
  bool expired_ = false;
};

/// Records the tool call in the turn (history entry, event) and resolves the tool.
ToolStart begin_tool(TurnContext& ctx, const std::string& tool, std::string arguments,
                     std::string operation);

/// Records the tool's outcome in the turn (history entry, event).
void end_tool(TurnContext& ctx, const std::string& tool, const ToolResult& result);

/// co_await AsyncTurn::ask_all / ask.
class AskAwaiter {
public:
  AskAwaiter(TurnContext& ctx, std::vector<SubRequest> requests, bool single);
  bool await_ready() const noexcept {
    return false;
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return inner_.await_suspend(h);
  }
  /// All replies, in the order asked (ask_all).
  std::vector<Reply> replies();

protected:
  using Start = std::function<void(AwaitContext*, const std::shared_ptr<ValueSlot<std::vector<Reply>>>&)>;
  TurnContext* ctx_;
  std::vector<std::string> agents_;
  SlotAwaiter<std::vector<Reply>, Start> inner_;
};

class AskAllAwaiter : public AskAwaiter {
public:
  AskAllAwaiter(TurnContext& ctx, std::vector<SubRequest> requests)
    : AskAwaiter(ctx, std::move(requests), false) {
    // nop
  }
  std::vector<Reply> await_resume() {
    return replies();
  }
};

class AskOneAwaiter : public AskAwaiter {
public:
  AskOneAwaiter(TurnContext& ctx, SubRequest request)
    : AskAwaiter(ctx, one(std::move(request)), true) {
    // nop
  }
  Reply await_resume() {
    return std::move(replies().front());
  }

private:
  static std::vector<SubRequest> one(SubRequest r) {
    std::vector<SubRequest> v;
    v.push_back(std::move(r));
    return v;
  }
};

/// co_await AsyncTurn::call_tool.
class ToolAwaiter {
public:
  ToolAwaiter(TurnContext& ctx, std::string tool, std::string arguments, std::string operation)
    : ctx_(&ctx), tool_(std::move(tool)), start_(begin_tool(ctx, tool_, std::move(arguments),
                                                            std::move(operation))) {
    // nop
  }

  bool await_ready() const noexcept {
    return start_.ready.has_value();
  }

  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    if (start_.task.valid()) { // a coroutine tool: it runs on in this coroutine's chain
      auto t = start_.task.handle();
      t.promise().continuation = h;
      AwaitContext* context = context_of(h);
      if (start_.timeout && context != nullptr) { // its own timeout fails its awaits
        deadline_ = std::make_shared<ToolDeadline>(
          context, Error{errc::timeout, "tool '" + tool_ + "' did not finish before its deadline"});
        deadline_->arm(*start_.timeout);
        context = deadline_.get();
      }
      t.promise().context = context;
      return t;
    }
    pool_.emplace(std::move(start_.start));
    if (pool_->await_suspend(h))
      return std::noop_coroutine();
    return h;
  }

  ToolResult await_resume() {
    auto result = start_.ready     ? std::move(*start_.ready)
                  : start_.task.valid() ? take_task()
                                         : pool_->await_resume();
    end_tool(*ctx_, tool_, result);
    return result;
  }

private:
  using Start = std::function<void(AwaitContext*, const std::shared_ptr<ValueSlot<std::string>>&)>;

  ToolResult take_task() {
    if (deadline_ && deadline_->expired())
      return deadline_->why(); // whatever the tool made of its failed await
    try {
      return start_.task.result();
    } catch (...) {
      return Error{errc::tool_failed,
                   "the tool threw: " + exception_text(std::current_exception())};
    }
  }

  TurnContext* ctx_;
  std::string tool_;
  ToolStart start_;
  std::shared_ptr<ToolDeadline> deadline_;
  std::optional<SlotAwaiter<std::string, Start>> pool_;
};

/// co_await AsyncTurn::sleep.
class SleepAwaiter {
public:
  explicit SleepAwaiter(std::chrono::steady_clock::duration delay)
    : inner_([delay](AwaitContext* context, const std::shared_ptr<ValueSlot<void>>& slot) {
        context->after(delay, [slot] { slot->complete(); });
      }) {
    // nop
  }
  bool await_ready() const noexcept {
    return false;
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return inner_.await_suspend(h);
  }
  Result<void> await_resume() {
    return inner_.await_resume();
  }

private:
  using Start = std::function<void(AwaitContext*, const std::shared_ptr<ValueSlot<void>>&)>;
  SlotAwaiter<void, Start> inner_;
};

} // namespace detail

class AsyncTurn : public TurnBase {
public:
  using TurnBase::TurnBase;

  /// Waits `delay` on a timer (no thread sleeps). An error if the turn must stop first.
  detail::SleepAwaiter sleep(std::chrono::steady_clock::duration delay) {
    return detail::SleepAwaiter{delay};
  }

  /// Awaits any asynchronous operation (see agentrt::wait_for in await.hpp).
  template <class T, class F>
  auto wait_for(F start) {
    return agentrt::wait_for<T>(std::move(start));
  }

  /// Calls a registered tool (as Turn::call_tool: recorded in the history and the stream).
  /// A non-blocking tool runs at once; a blocking one runs on the blocking pool while this
  /// turn waits without a thread; a coroutine tool runs in this turn's coroutine.
  detail::ToolAwaiter call_tool(const std::string& tool, std::string arguments,
                                std::string operation = {}) {
    return detail::ToolAwaiter{ctx_, tool, std::move(arguments), std::move(operation)};
  }

  /// Runs a turn of `agent` in the same conversation (as Turn::ask) and gives its Reply.
  detail::AskOneAwaiter ask(const std::string& agent, std::string input, Params params = {}) {
    return detail::AskOneAwaiter{ctx_, SubRequest{agent, std::move(input), std::move(params)}};
  }

  /// Runs several sub-agents in parallel and gives their replies, in the order asked.
  detail::AskAllAwaiter ask_all(std::vector<SubRequest> requests) {
    return detail::AskAllAwaiter{ctx_, std::move(requests)};
  }
};

} // namespace agentrt
