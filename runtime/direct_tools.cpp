#include "runtime/direct_tools.hpp"

#include "core/agent_registry.hpp"
#include "core/validation.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/id_minter.hpp"
#include "runtime/refusals.hpp"
#include "runtime/tool_execution.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

namespace agentrt::detail {

/// One run: ends once, whoever comes first (the tool, the host's stop, or close()).
struct DirectTools::Run {
  /// The host's stop ends the run at once, queued or running (a queued job would otherwise
  /// wait for a pool thread before anyone noticed), then asks the tool to stop.
  struct StopRun {
    Run* run;
    void operator()() const noexcept {
      bool late = std::chrono::steady_clock::now() >= run->deadline;
      run->end(late ? Error{errc::timeout, "tool '" + run->tool + "' did not finish before its deadline"}
                    : Error{errc::cancelled, "the tool run was cancelled"});
      run->stop.request_stop();
    }
  };

  std::uint64_t id = 0;
  std::string session_id;
  std::string tool;
  std::function<void(ToolReply)> done;
  std::atomic<bool> ended{false};
  std::stop_source stop;       // the tool's: the host's stop, or close()
  std::chrono::steady_clock::time_point deadline;
  std::optional<std::stop_callback<StopRun>> forward; // last: it refers to the above

  void end(ToolResult result) noexcept {
    if (ended.exchange(true, std::memory_order_acq_rel))
      return;
    ToolReply reply;
    reply.session_id = session_id; // copies: the job may still be reading them
    reply.tool = tool;
    if (result) {
      reply.result = std::move(*result);
    } else {
      reply.error = result.error().code;
      reply.message = std::move(result.error().message);
    }
    try {
      done(std::move(reply));
    } catch (...) { // documented: ignored
    }
  }
};

DirectTools::DirectTools(std::shared_ptr<ToolRegistry> tools, std::shared_ptr<BlockingPool> pool,
                         std::shared_ptr<spdlog::logger> log, std::size_t max_arguments,
                         std::chrono::milliseconds default_timeout)
  : tools_(std::move(tools)), pool_(std::move(pool)), log_(std::move(log)),
    table_(std::make_shared<Table>()), max_arguments_(max_arguments),
    default_timeout_(default_timeout) {
  // nop
}

namespace {

/// Why `call` cannot run, if it cannot (the tool is checked by the caller).
std::optional<Error> refusal(const ToolCall& call, std::size_t max_arguments) {
  if (!call.session_id.empty() && !valid_session_id(call.session_id))
    return invalid_session_id(call.session_id);
  if (call.arguments.size() + call.operation.size() > max_arguments)
    return input_too_large(call.arguments.size() + call.operation.size(), max_arguments);
  if (call.timeout && call.timeout->count() <= 0)
    return invalid_timeout();
  return std::nullopt;
}

} // namespace

void DirectTools::run(ToolCall call, std::function<void(ToolReply)> done, IdMinter& minter) {
  auto r = std::make_shared<Run>();
  r->tool = call.tool;
  r->session_id = call.session_id;
  r->done = std::move(done);
  auto entry = tools_->find(call.tool);
  auto refused = entry ? refusal(call, max_arguments_) : std::optional{unknown_tool(call.tool)};
  if (refused) {
    log_->debug("[{}/-] tool run refused: {}", call.session_id.empty() ? "-" : call.session_id,
                refused->message);
    r->end(std::move(*refused));
    return;
  }
  if (r->session_id.empty())
    r->session_id = minter.mint();
  if (call.stop.stop_requested()) { // cancelled before it began: the tool never runs
    r->end(Error{errc::cancelled, "the tool run was cancelled"});
    return;
  }
  bool open = false;
  {
    MutexLock guard{table_->mu};
    open = table_->open;
    if (open) {
      r->id = ++table_->next;
      table_->running.emplace(r->id, r);
    }
  }
  if (!open) {
    r->end(shutting_down());
    return;
  }
  ToolRequest request;
  request.tool = entry->name;
  request.operation = std::move(call.operation);
  request.arguments = std::move(call.arguments);
  request.agent = std::move(call.agent);
  request.session_id = r->session_id;
  auto limit = saturated(call.timeout.value_or(default_timeout_));
  if (entry->options.timeout)
    limit = std::min(limit, saturated(*entry->options.timeout));
  request.deadline = std::chrono::steady_clock::now() + limit;
  r->deadline = request.deadline;
  r->forward.emplace(call.stop, Run::StopRun{r.get()});

  pool_->post([r, entry, pool = pool_, table = table_, log = log_,
               request = std::move(request)]() mutable {
    auto stop = r->stop.get_token();
    ToolResult result = [&]() -> ToolResult {
      // Ended while it queued (the host's stop, close), or queued past its deadline: the
      // tool does not start.
      if (r->ended.load(std::memory_order_acquire))
        return Error{errc::cancelled, "the tool run ended before it started"};
      if (std::chrono::steady_clock::now() >= r->deadline)
        return Error{errc::timeout, "tool '" + r->tool + "' waited past its deadline for a thread"};
      if (entry->async_handler)
        return drive_async(*pool, *entry->async_handler, std::move(request), stop);
      if (entry->options.blocking)
        return run_on_pool(*pool, entry->handler, std::move(request), stop);
      request.stop = stop; // quick by contract: runs here
      return call_guarded(*entry->handler, request);
    }();
    if (!result)
      log->debug("[{}/-] tool {} failed: {}", r->session_id, r->tool, result.error().message);
    {
      MutexLock guard{table->mu};
      table->running.erase(r->id);
    }
    r->end(std::move(result));
  });
}

void DirectTools::close() {
  std::vector<std::shared_ptr<Run>> running;
  {
    MutexLock guard{table_->mu};
    table_->open = false;
    for (auto& [id, r] : table_->running)
      running.push_back(r);
    table_->running.clear();
  }
  for (auto& r : running) {
    r->end(shutting_down()); // first: what the stopped tool returns now is dropped
    r->stop.request_stop();
  }
}

} // namespace agentrt::detail
