#pragma once

// Gate: how callbacks held by the Runtime (a call's events and outcome) reach the server
// only while it exists. They run inside the gate; HttpServer::stop closes it, waiting for
// those inside, before anything they use is destroyed. A call may outlive the server: its
// callbacks then find the gate closed and do nothing.

#include <memory>
#include <shared_mutex>
#include <utility>

namespace agentrt::server::detail {

class Gate {
public:
  /// Runs `f` if the gate is open; returns whether it ran.
  template <class F>
  bool run(F&& f) {
    std::shared_lock guard{mu_};
    if (!open_)
      return false;
    std::forward<F>(f)();
    return true;
  }

  /// Closes the gate once every callback inside has left.
  void close() {
    std::unique_lock guard{mu_};
    open_ = false;
  }

private:
  std::shared_mutex mu_;
  bool open_ = true; // guarded by mu_
};

using GatePtr = std::shared_ptr<Gate>;

} // namespace agentrt::server::detail
