#include "runtime/turn_hub.hpp"

#include "core/agent_registry.hpp"
#include "core/call_state.hpp"
#include "core/exception_text.hpp"
#include "core/session_data.hpp"
#include "core/validation.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/local_driver.hpp"
#include "runtime/refusals.hpp"
#include "runtime/tool_execution.hpp"
#include "runtime/runtime_core.hpp"

#include <spdlog/logger.h>

#include <exception>

namespace agentrt::detail {

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

ChildCall TurnHub::start_child(const CallPtr& parent, SubRequest request) {
  RuntimeCore* core = nullptr;
  {
    MutexLock guard{mu_};
    core = core_;
    if (core != nullptr)
      ++active_;
  }
  if (core == nullptr)
    return ChildCall{failed_call(parent->session_id, std::move(request.agent), shutting_down()),
                     {}};
  auto call = core->start_child(parent, std::move(request));
  MutexLock guard{mu_};
  if (--active_ == 0)
    idle_.notify_all();
  return call;
}

ToolRequest TurnHub::request_for(const TurnContext& ctx, const ToolEntry& entry,
                                 std::string arguments, std::string operation) {
  auto& call = *ctx.call;
  ToolRequest request;
  request.tool = entry.name;
  request.operation = std::move(operation);
  request.arguments = std::move(arguments);
  request.agent = call.agent;
  request.session_id = call.session_id;
  request.call_id = call.id;
  request.turn = ctx.number;
  request.request_id = call.request_id;
  request.deadline = call.deadline;
  if (entry.options.timeout)
    request.deadline = std::min(request.deadline, Clock::now() + saturated(*entry.options.timeout));
  return request;
}

ToolResult TurnHub::run_tool(TurnContext& ctx, const std::string& name, std::string arguments,
                             std::string operation) {
  auto& call = *ctx.call;
  auto result = [&]() -> ToolResult {
    auto entry = tools_->find(name);
    if (!entry)
      return unknown_tool(name);
    auto request = request_for(ctx, *entry, std::move(arguments), std::move(operation));
    bool waits = entry->async_handler || entry->options.blocking;
    if (waits && !ctx.blocking)
      return Error{errc::blocking_required,
                   "tool '" + name + "' waits: agent '" + call.agent
                     + "' must be registered with AgentOptions::blocking = true, or be a "
                       "coroutine agent, to call it"};
    if (entry->async_handler)
      return drive_async(*pool_, *entry->async_handler, std::move(request),
                         call.stop.get_token());
    if (!entry->options.blocking) {
      request.stop = call.stop.get_token();
      return call_guarded(*entry->handler, request);
    }
    return run_on_pool(*pool_, entry->handler, std::move(request), call.stop.get_token());
  }();
  if (!result)
    log_->debug("[{}/{}] tool {} failed: {}", call.session_id, call.id, name,
                result.error().message);
  return result;
}

Result<std::string> TurnHub::run_compactor(TurnContext& ctx, const Compactor& compactor,
                                           const Compaction& oldest, std::stop_token stop) {
  auto& call = *ctx.call;
  try {
    auto task = compactor(oldest);
    if (!task.valid())
      return Error{errc::agent_failed, "the compactor returned no coroutine"};
    // Either stop ends it: the call's (cancel, close, shutdown) or the session's.
    std::stop_source either;
    std::stop_callback by_call{call.stop.get_token(), [&] { either.request_stop(); }};
    std::stop_callback by_session{stop, [&] { either.request_stop(); }};
    auto driver = std::make_shared<LocalDriver>();
    WaitScope waiting{*pool_};
    auto result = driver->run(task, either.get_token(), Clock::time_point::max());
    if (auto* why = driver->stopped())
      return *why;
    return result;
  } catch (...) {
    return Error{errc::agent_failed,
                 "the compactor threw: " + exception_text(std::current_exception())};
  }
}

ToolStart TurnHub::start_tool(TurnContext& ctx, const std::string& name, std::string arguments,
                              std::string operation) {
  auto& call = *ctx.call;
  ToolStart start;
  auto entry = tools_->find(name);
  if (!entry) {
    start.ready = ToolResult{unknown_tool(name)};
    return start;
  }
  auto request = request_for(ctx, *entry, std::move(arguments), std::move(operation));
  request.stop = call.stop.get_token();
  if (entry->async_handler) {
    try {
      start.request = std::make_unique<ToolRequest>(std::move(request));
      start.task = (*entry->async_handler)(*start.request);
      if (!start.task.valid())
        start.ready = ToolResult{Error{errc::tool_failed, "the tool returned no coroutine"}};
      else if (entry->options.timeout)
        start.timeout = saturated(*entry->options.timeout);
    } catch (...) {
      start.ready =
        ToolResult{Error{errc::tool_failed, "the tool threw: " + exception_text(std::current_exception())}};
    }
    return start;
  }
  if (!entry->options.blocking) { // runs here, on the session's actor: it must be quick
    start.ready = call_guarded(*entry->handler, request);
    return start;
  }
  // A blocking tool runs on the pool; the turn waits without a thread. Its own timeout, if
  // sooner than the call's deadline (which the session watches), fails the await.
  auto timeout = entry->options.timeout;
  start.start = [pool = pool_, handler = entry->handler, request = std::move(request), timeout,
                 name](AwaitContext* context, const std::shared_ptr<ValueSlot<std::string>>& slot) mutable {
    auto stop = std::make_shared<std::stop_source>();
    request.stop = stop->get_token();
    slot->on_abandon([stop] { stop->request_stop(); });
    if (timeout)
      context->after(saturated(*timeout), [slot, stop, name] {
        stop->request_stop();
        slot->fail(Error{errc::timeout, "tool '" + name + "' did not finish before its deadline"});
      });
    pool->post([slot, handler, request = std::move(request)] {
      auto result = call_guarded(*handler, request);
      if (result)
        slot->complete(std::move(*result));
      else
        slot->fail(std::move(result).error());
    });
  };
  return start;
}

} // namespace agentrt::detail
