#pragma once

// Awaiting things from a coroutine turn: the one-shot Completion<T> a host's asynchronous
// client completes from any thread, and `wait_for`, which awaits it.
//
//   std::string body = co_await agentrt::wait_for<std::string>(
//       [&](agentrt::Completion<std::string> done) {
//         http.async_get(url, [done](std::string b) { done(std::move(b)); });
//       }).value();   // a Result<std::string>: value() throws if it failed
//
// The coroutine is suspended while it waits, holding no thread. Completing the handle
// resumes it where its turn runs (on its session's actor). The handle is safe to misuse:
// a second completion is ignored; one after the turn was cancelled or timed out is
// ignored; one from a thread that outlives the Runtime is ignored; and when every copy of
// a handle is dropped without completing it, the await ends with `errc::abandoned` instead
// of waiting for the turn's timeout.
//
// Cancel, timeout, interrupt, rollback, close and shutdown complete a pending await at once
// with that error (the coroutine sees it in the Result); every later await of the turn
// fails at once the same way, so a turn that is told to stop cannot wait again.

#include <agentrt/result.hpp>
#include <agentrt/task.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace agentrt {

namespace detail {

class AwaitSlot;

/// Where a suspended coroutine is resumed: a session actor, or a thread driving a tool.
class Resumer {
public:
  virtual ~Resumer() = default;
  /// `slot` was completed: resume its coroutine. Any thread; never blocks.
  virtual void resume(std::shared_ptr<AwaitSlot> slot) noexcept = 0;
};

/// What a coroutine runs in (see Task): it hands every await its resumer, fails it at
/// once when the turn must stop, and keeps timers.
class AwaitContext {
public:
  virtual ~AwaitContext() = default;
  /// The coroutine `slot->handle` now waits on `slot`. Called from await_suspend, on the
  /// coroutine's thread, before the awaited operation starts.
  virtual void suspend(const std::shared_ptr<AwaitSlot>& slot) = 0;
  /// Runs `fn` where the context runs its coroutines, after `delay` (a timer; no thread
  /// sleeps). `fn` typically completes or fails a slot.
  virtual void after(std::chrono::steady_clock::duration delay, std::function<void()> fn) = 0;
};

/// One await, shared by the suspended coroutine (through its awaiter) and whoever
/// completes it. The first completion wins; the coroutine is resumed exactly once.
class AwaitSlot : public std::enable_shared_from_this<AwaitSlot> {
public:
  virtual ~AwaitSlot() = default;

  /// The suspended coroutine (set in await_suspend).
  std::coroutine_handle<> handle;

  /// Completes the slot with an error unless it is already completed; runs `on_abandon`
  /// first (it stops what was awaited: child calls, a tool). True if this completed it.
  bool fail(Error error);

  /// Run when the slot is failed, before the coroutine resumes (cancels what it awaited).
  void on_abandon(std::function<void()> fn);

  /// Set by the context in `suspend`.
  void resumer(std::shared_ptr<Resumer> r) noexcept;

  bool completed() const noexcept {
    return state_.load(std::memory_order_acquire) != 0;
  }

protected:
  /// Runs `store` (which writes the value) if this is the first completion, then resumes
  /// the coroutine. True if it was the first.
  template <class F>
  bool complete_with(F&& store) {
    int expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
      return false;
    store();
    finish();
    return true;
  }

  virtual void store_error(Error error) = 0;

private:
  void finish();

  std::atomic<int> state_{0}; // 0 waiting, 1 completing, 2 completed
  std::mutex mu_;
  std::function<void()> abandon_;     // guarded by mu_
  std::shared_ptr<Resumer> resumer_;  // set before the operation starts, then read-only
};

/// A slot holding a Result<T>.
template <class T>
class ValueSlot final : public AwaitSlot {
public:
  bool complete(T value) {
    return complete_with([&] { result_.emplace(std::move(value)); });
  }

  Result<T> take() {
    return std::move(*result_);
  }

private:
  void store_error(Error error) override {
    result_.emplace(std::move(error));
  }

  std::optional<Result<T>> result_;
};

template <>
class ValueSlot<void> final : public AwaitSlot {
public:
  bool complete() {
    return complete_with([&] { result_.emplace(); });
  }

  Result<void> take() {
    return std::move(*result_);
  }

private:
  void store_error(Error error) override {
    result_.emplace(std::move(error));
  }

  std::optional<Result<void>> result_;
};

/// Fails `slot` with abandoned when the last handle that could complete it is dropped.
template <class T>
struct CompletionOwner {
  explicit CompletionOwner(std::shared_ptr<ValueSlot<T>> s) noexcept : slot(std::move(s)) {
    // nop
  }
  ~CompletionOwner();
  std::shared_ptr<ValueSlot<T>> slot;
};

/// The awaiter of one slot: suspends the coroutine in its context, starts the operation
/// with `start(slot)`, and returns the slot's Result when resumed.
template <class T, class Start>
class SlotAwaiter {
public:
  explicit SlotAwaiter(Start start) : start_(std::move(start)) {
    // nop (a constructor of its own: see CAF-0.17.md on g++ 12 and aggregate awaitables)
  }

  bool await_ready() const noexcept {
    return false;
  }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    slot_ = std::make_shared<ValueSlot<T>>();
    slot_->handle = h;
    auto* context = context_of(h);
    if (context == nullptr) {
      slot_->fail(Error{std::make_error_code(std::errc::operation_not_supported),
                        "this awaitable needs an agentrt coroutine (a Task run by a turn)"});
      return false;
    }
    context->suspend(slot_);
    if (!slot_->completed())
      start_(context, slot_);
    return true; // resumed through the context, even if it completed already
  }

  Result<T> await_resume() {
    return slot_->take();
  }

private:
  Start start_;
  std::shared_ptr<ValueSlot<T>> slot_;
};

std::string exception_text(std::exception_ptr ep);

} // namespace detail

/// A one-shot handle that completes an await of a coroutine turn with a value or an Error.
/// Copyable (copies share the one outcome); callable from any thread; see the top of this
/// header for what happens when it is called twice, late, or never.
template <class T>
class Completion {
public:
  explicit Completion(std::shared_ptr<detail::ValueSlot<T>> slot)
    : owner_(std::make_shared<detail::CompletionOwner<T>>(std::move(slot))) {
    // nop
  }

  /// Completes with `value`; true if this was the first outcome.
  template <class U = T, std::enable_if_t<!std::is_void_v<U>, int> = 0>
  bool operator()(U value) const {
    return owner_->slot->complete(std::move(value));
  }

  /// Completes a Completion<void>.
  template <class U = T, std::enable_if_t<std::is_void_v<U>, int> = 0>
  bool operator()() const {
    return owner_->slot->complete();
  }

  /// Completes with an error; true if this was the first outcome.
  bool fail(Error error) const {
    return owner_->slot->fail(std::move(error));
  }

  /// True once the await has its outcome (from this handle, or a cancel or timeout).
  bool done() const noexcept {
    return owner_->slot->completed();
  }

private:
  std::shared_ptr<detail::CompletionOwner<T>> owner_;
};

template <class T>
detail::CompletionOwner<T>::~CompletionOwner() {
  slot->fail(Error{errc::abandoned,
                   "the asynchronous operation dropped its completion handle without an outcome"});
}

/// Awaits an asynchronous operation: `start` runs at once (on the coroutine's thread: it
/// must not block) with a Completion<T>, and the coroutine resumes when the operation
/// completes it. What `start` throws fails the await with `agent_failed`.
template <class T, class F>
auto wait_for(F start) {
  auto run = [start = std::move(start)](detail::AwaitContext*,
                                        const std::shared_ptr<detail::ValueSlot<T>>& slot) mutable {
    try {
      start(Completion<T>{slot});
    } catch (...) {
      slot->fail(Error{errc::agent_failed, "the asynchronous operation could not start: "
                                             + detail::exception_text(std::current_exception())});
    }
  };
  return detail::SlotAwaiter<T, decltype(run)>{std::move(run)};
}

} // namespace agentrt
