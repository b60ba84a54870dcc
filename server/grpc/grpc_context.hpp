#pragma once

// GrpcContext: what every rpc of one GrpcServer shares: the runtime, the config, the log,
// whether it drains, and how many rpcs are running. Reactors and the runtime callbacks they
// hand out hold it by shared_ptr, so a callback that fires after the server stopped finds
// it still there (it touches nothing else of the server).

#include <agentrt/runtime.hpp>
#include <agentrt/server/grpc_server.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>

namespace agentrt::server::detail {

struct GrpcContext {
  GrpcContext(Runtime& rt, GrpcConfig cfg, std::shared_ptr<spdlog::logger> logger)
    : runtime(rt), config(std::move(cfg)), log(std::move(logger)) {}

  Runtime& runtime;
  const GrpcConfig config;
  const std::shared_ptr<spdlog::logger> log; ///< never null
  std::atomic<bool> draining{false};

  /// An rpc began (its reactor exists) / ended (OnDone).
  void enter() {
    std::lock_guard guard{mu_};
    ++running_;
  }
  void leave() {
    std::lock_guard guard{mu_};
    if (--running_ == 0)
      idle_.notify_all();
  }
  /// Waits until no rpc runs, at most `wait`; how many still run.
  std::size_t wait_idle(std::chrono::milliseconds wait) {
    std::unique_lock lock{mu_};
    idle_.wait_for(lock, wait, [this] { return running_ == 0; });
    return running_;
  }

private:
  std::mutex mu_;
  std::condition_variable idle_;
  std::size_t running_ = 0; // guarded by mu_
};

using GrpcContextPtr = std::shared_ptr<GrpcContext>;

} // namespace agentrt::server::detail
