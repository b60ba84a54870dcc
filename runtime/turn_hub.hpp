#pragma once

// TurnHub: what turns reach outside their session: tools, sub-agents, the pool they wait on
// (the runtime's TurnServices). Every blocking turn holds it (shared_ptr), so a handler
// abandoned at shutdown that calls a tool or a sub-agent later finds it closed
// (`shutting_down`), never freed: the tools, the pool and the logger are shared, and the
// runtime itself is reached only between `attach` and `detach`, counted.
//
// Thread-safety: every member may be called from any thread.

#include "core/fwd.hpp"
#include "core/thread_annotations.hpp"
#include "core/turn_services.hpp"
#include "runtime/fwd.hpp"

#include <condition_variable>
#include <memory>
#include <string>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::detail {


class TurnHub final : public TurnServices {
public:
  TurnHub(std::shared_ptr<ToolRegistry> tools, std::shared_ptr<BlockingPool> pool,
          std::shared_ptr<spdlog::logger> log);

  void attach(RuntimeCore* core);

  /// After this, start_child refuses; waits for the ones in progress.
  void detach();

  ChildCall start_child(const CallPtr& parent, SubRequest request) override;
  ToolResult run_tool(TurnContext& ctx, const std::string& name, std::string arguments,
                      std::string operation) override;
  ToolStart start_tool(TurnContext& ctx, const std::string& name, std::string arguments,
                       std::string operation) override;
  Executor& pool() override;
  Result<std::string> run_compactor(TurnContext& ctx, const Compactor& compactor,
                                    const Compaction& oldest, std::stop_token stop) override;

private:
  /// The request a tool is called with, for the turn `ctx`; its deadline is the call's, or
  /// the tool's own timeout if sooner.
  static ToolRequest request_for(const TurnContext& ctx, const ToolEntry& entry,
                                 std::string arguments, std::string operation);

  std::shared_ptr<ToolRegistry> tools_;
  std::shared_ptr<BlockingPool> pool_;
  std::shared_ptr<spdlog::logger> log_;
  Mutex mu_;
  std::condition_variable idle_;
  RuntimeCore* core_ AGENTRT_GUARDED_BY(mu_) = nullptr;
  int active_ AGENTRT_GUARDED_BY(mu_) = 0;
};

} // namespace agentrt::detail
