#pragma once

// DirectTools: the tool runs a host starts outside any turn (Runtime::run_tool). Each runs
// on the blocking pool and ends exactly once: with the tool's result, a timeout, a cancel
// by the host's stop token, or `shutting_down` when the runtime closes it first.
//
// Thread-safety: `run` from any thread; `close` once, by the owner, before the pool stops.
// A run's job shares what it touches (the run table, the pool), so a tool that returns
// after the runtime is gone finds its run already ended and does nothing.

#include <agentrt/tool.hpp>

#include "core/fwd.hpp"
#include "core/thread_annotations.hpp"
#include "runtime/fwd.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::detail {

class DirectTools {
public:
  DirectTools(std::shared_ptr<ToolRegistry> tools, std::shared_ptr<BlockingPool> pool,
              std::shared_ptr<spdlog::logger> log, std::size_t max_arguments,
              std::chrono::milliseconds default_timeout);

  /// Validates `call` (a refusal ends it here, on this thread) and starts it on the pool.
  void run(ToolCall call, std::function<void(ToolReply)> done, IdMinter& minter);

  /// Refuses new runs; asks each running one to stop and ends it with `shutting_down`.
  void close();

private:
  struct Run;
  struct Table {
    Mutex mu;
    bool open AGENTRT_GUARDED_BY(mu) = true;
    std::uint64_t next AGENTRT_GUARDED_BY(mu) = 0;
    std::map<std::uint64_t, std::shared_ptr<Run>> running AGENTRT_GUARDED_BY(mu);
  };

  std::shared_ptr<ToolRegistry> tools_;
  std::shared_ptr<BlockingPool> pool_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<Table> table_;
  std::size_t max_arguments_;
  std::chrono::milliseconds default_timeout_;
};

} // namespace agentrt::detail
