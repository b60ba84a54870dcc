#pragma once

// Executor: where a session sends a blocking turn to run, and ResultGate: how the turn's
// result gets back to the session only while the runtime still exists.

#include "core/thread_annotations.hpp"

#include <functional>
#include <shared_mutex>

namespace agentrt::detail {

class Executor {
public:
  virtual ~Executor() = default;
  /// Runs `job` on some thread other than the caller's. Never blocks the caller.
  virtual void post(std::function<void()> job) = 0;
  /// The calling job is about to wait for other work (a sub-agent, a tool) that may need a
  /// thread of this executor: it may add a thread so that work cannot starve. Pair with
  /// `end_wait`.
  virtual void begin_wait() {
    // nop
  }
  virtual void end_wait() {
    // nop
  }
};

/// Marks a wait on other pool work for its scope (see Executor::begin_wait).
class WaitScope {
public:
  explicit WaitScope(Executor& ex) : ex_(ex) {
    ex_.begin_wait();
  }
  ~WaitScope() {
    ex_.end_wait();
  }
  WaitScope(const WaitScope&) = delete;
  WaitScope& operator=(const WaitScope&) = delete;

private:
  Executor& ex_;
};

/// A turn that ignores its stop token can outlive the Runtime (its thread is abandoned after
/// the drain). Its result is delivered through the gate, which the Runtime closes before it
/// destroys the actor system, so a late turn never touches a dead system. Held by
/// shared_ptr by every blocking job.
class ResultGate {
public:
  /// Runs `deliver` unless the gate is closed; never concurrently with `close`. Deliveries
  /// run concurrently with each other (a shared lock: every resumption of a coroutine turn
  /// passes here).
  template <class F>
  void pass(F&& deliver) {
    std::shared_lock guard{mu_};
    if (open_)
      deliver();
  }

  void close() {
    std::unique_lock guard{mu_};
    open_ = false;
  }

private:
  std::shared_mutex mu_;
  bool open_ = true; // guarded by mu_
};

} // namespace agentrt::detail
