#include "runtime/turn_hub.hpp"

#include "core/agent_registry.hpp"
#include "core/call_state.hpp"
#include "core/session_data.hpp"
#include "core/validation.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/refusals.hpp"
#include "runtime/runtime_core.hpp"

#include <spdlog/logger.h>

#include <exception>

namespace agentrt::detail {

namespace {

/// Calls a tool's handler; what it throws becomes tool_failed with the exception's text. A
/// tool's own Error passes unchanged (its code and message are the tool's to choose).
ToolResult call_guarded(const ToolHandler& handler, const ToolRequest& request) noexcept {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return Error{errc::tool_failed, std::string{"the tool threw: "} + e.what()};
  } catch (...) {
    return Error{errc::tool_failed, "the tool threw an unknown exception"};
  }
}

} // namespace

TurnHub::TurnHub(std::shared_ptr<ToolRegistry> tools, std::shared_ptr<BlockingPool> pool,
                 std::shared_ptr<spdlog::logger> log)
  : tools_(std::move(tools)), pool_(std::move(pool)), log_(std::move(log)) {
  // nop
}

void TurnHub::attach(RuntimeCore* core) {
  MutexLock guard{mu_};
  core_ = core;
}

void TurnHub::detach() {
  CondLock lock{mu_};
  core_ = nullptr;
  idle_.wait(lock.get(), [this]() AGENTRT_REQUIRES(mu_) { return active_ == 0; });
}

Executor& TurnHub::pool() {
  return *pool_;
}

Call TurnHub::start_child(const CallPtr& parent, SubRequest request) {
  RuntimeCore* core = nullptr;
  {
    MutexLock guard{mu_};
    core = core_;
    if (core != nullptr)
      ++active_;
  }
  if (core == nullptr)
    return failed_call(parent->session_id, std::move(request.agent), shutting_down());
  auto call = core->start_child(parent, std::move(request));
  MutexLock guard{mu_};
  if (--active_ == 0)
    idle_.notify_all();
  return call;
}

ToolResult TurnHub::run_tool(TurnContext& ctx, const std::string& name, std::string arguments,
                             std::string operation) {
  auto& call = *ctx.call;
  auto result = [&]() -> ToolResult {
    auto entry = tools_->find(name);
    if (!entry)
      return Error{errc::unknown_tool, "unknown tool '" + clip(name, 80) + "'"};
    ToolRequest request;
    request.tool = name;
    request.operation = std::move(operation);
    request.arguments = std::move(arguments);
    request.agent = call.agent;
    request.session_id = call.session_id;
    request.call_id = call.id;
    request.deadline = call.deadline;
    if (entry->options.timeout)
      request.deadline =
        std::min(request.deadline, Clock::now() + saturated(*entry->options.timeout));
    if (!entry->options.blocking) {
      request.stop = call.stop.get_token();
      return call_guarded(*entry->handler, request);
    }
    if (!ctx.blocking)
      return Error{errc::blocking_required,
                   "tool '" + name + "' blocks: agent '" + call.agent
                     + "' must be registered with AgentOptions::blocking = true to call it"};
    return run_on_pool(call, entry->handler, std::move(request));
  }();
  if (!result)
    log_->debug("[{}/{}] tool {} failed: {}", call.session_id, call.id, name,
                result.error().message);
  return result;
}

ToolResult TurnHub::run_on_pool(CallState& call, std::shared_ptr<const ToolHandler> handler,
                                ToolRequest request) {
  struct Run {
    Mutex mu;
    std::condition_variable cv;
    std::optional<ToolResult> result AGENTRT_GUARDED_BY(mu);
    std::stop_source stop;
  };
  auto run = std::make_shared<Run>();
  request.stop = run->stop.get_token();
  auto deadline = request.deadline;
  auto name = request.tool;
  pool_->post([run, handler = std::move(handler), request = std::move(request)] {
    auto r = call_guarded(*handler, request);
    {
      MutexLock g{run->mu};
      run->result.emplace(std::move(r));
    }
    run->cv.notify_all();
  });
  std::stop_callback propagate{call.stop.get_token(), [run] {
                                 // Under the lock: the waiter cannot miss it between its
                                 // check and its wait.
                                 MutexLock g{run->mu};
                                 run->stop.request_stop();
                                 run->cv.notify_all();
                               }};
  CondLock lock{run->mu};
  {
    WaitScope waiting{*pool_};
    run->cv.wait_until(lock.get(), deadline, [&]() AGENTRT_REQUIRES(run->mu) {
      return run->result.has_value() || run->stop.stop_requested();
    });
  }
  if (run->result)
    return std::move(*run->result);
  run->stop.request_stop();
  if (call.stop.stop_requested())
    return Error{errc::cancelled, "the call was stopped while tool '" + name + "' ran"};
  return Error{errc::timeout, "tool '" + name + "' did not finish before its deadline"};
}

} // namespace agentrt::detail
