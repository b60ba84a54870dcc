#pragma once

// Task<T>: the coroutine type of agentrt's asynchronous code. A coroutine agent's handler
// returns Task<std::string>; an asynchronous tool returns Task<ToolResult>; any helper
// coroutine they call returns Task<T> and is awaited with `co_await`.
//
// A Task is lazy: its body starts when it is awaited (or when the runtime starts a turn's
// task). It runs where it is resumed: a turn's coroutines always run on the turn's session
// actor, serialized with everything else of that session, so they may keep plain locals
// and touch the turn's state across `co_await`. An exception thrown in a Task is rethrown
// where it is awaited (a turn's handler that throws fails the call with `agent_failed`).
//
// Every Task carries the context it runs in (its session, its call's stop and deadline),
// handed from the awaiting coroutine to the awaited one, so an awaitable deep in a helper
// (agentrt::wait_for, a tool's awaits) knows where to resume and when to give up.
//
// Thread-safety: a Task is owned by one coroutine (or the runtime) and moved, not shared.

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace agentrt {

template <class T = void>
class Task;

namespace detail {

class AwaitContext;

/// What every Task promise has: the continuation to resume when it ends, its error, and
/// the context it runs in (inherited from whoever awaits it).
struct PromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr error;
  AwaitContext* context = nullptr;

  std::suspend_always initial_suspend() noexcept {
    return {};
  }

  struct Final {
    Final() noexcept = default;
    bool await_ready() const noexcept {
      return false;
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> done) noexcept {
      auto next = done.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {
      // nop
    }
  };

  Final final_suspend() noexcept {
    return {};
  }

  void unhandled_exception() noexcept {
    error = std::current_exception();
  }
};

/// The context of the coroutine `h`: its promise's, when it is a Task's (any other
/// coroutine type has none).
template <class P>
AwaitContext* context_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<PromiseBase, P>)
    return h.promise().context;
  else
    return nullptr;
}

template <class T>
struct Promise : PromiseBase {
  std::optional<T> value;

  Task<T> get_return_object() noexcept;

  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;

  void return_void() noexcept {
    // nop
  }
};

} // namespace detail

template <class T>
class [[nodiscard]] Task {
public:
  using promise_type = detail::Promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(handle_type h) noexcept : h_(h) {
    // nop
  }
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {
    // nop
  }
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    destroy();
  }

  /// True when this Task holds a coroutine.
  bool valid() const noexcept {
    return static_cast<bool>(h_);
  }

  /// True once the coroutine has run to its end (returned or thrown).
  bool done() const noexcept {
    return h_ && h_.done();
  }

  // -- awaiting a Task from another coroutine -------------------------------------------------

  struct Awaiter {
    explicit Awaiter(handle_type h) noexcept : h(h) {
      // nop
    }
    bool await_ready() const noexcept {
      return !h || h.done();
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) noexcept {
      h.promise().continuation = awaiting;
      h.promise().context = detail::context_of(awaiting);
      return h; // start (or continue) the awaited coroutine right here
    }
    T await_resume() {
      if (h.promise().error)
        std::rethrow_exception(h.promise().error);
      if constexpr (!std::is_void_v<T>)
        return std::move(*h.promise().value);
    }
    handle_type h;
  };

  Awaiter operator co_await() && noexcept {
    return Awaiter{h_};
  }

  // -- for the runtime, which drives a turn's root Task -----------------------------------------

  /// The coroutine; the Task keeps owning it.
  handle_type handle() const noexcept {
    return h_;
  }

  /// The result of a Task that is done: its value, or what it threw.
  T result() {
    return Awaiter{h_}.await_resume();
  }

private:
  void destroy() noexcept {
    if (h_)
      h_.destroy();
    h_ = {};
  }

  handle_type h_;
};

namespace detail {

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>{std::coroutine_handle<Promise<T>>::from_promise(*this)};
}

inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>{std::coroutine_handle<Promise<void>>::from_promise(*this)};
}

} // namespace detail

} // namespace agentrt
