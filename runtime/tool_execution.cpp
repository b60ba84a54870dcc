#include "runtime/tool_execution.hpp"

#include "core/exception_text.hpp"
#include "core/thread_annotations.hpp"
#include "runtime/local_driver.hpp"

#include <condition_variable>
#include <exception>
#include <optional>

namespace agentrt::detail {

ToolResult call_guarded(const ToolHandler& handler, const ToolRequest& request) noexcept {
  try {
    return handler(request);
  } catch (...) {
    return Error{errc::tool_failed, "the tool threw: " + exception_text(std::current_exception())};
  }
}

ToolResult run_on_pool(Executor& pool, std::shared_ptr<const ToolHandler> handler,
                       ToolRequest request, std::stop_token stop) {
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
  // The hook first: a stop already requested reaches the tool before it starts.
  std::stop_callback propagate{stop, [run] {
                                 // Under the lock: the waiter cannot miss it between its
                                 // check and its wait.
                                 MutexLock g{run->mu};
                                 run->stop.request_stop();
                                 run->cv.notify_all();
                               }};
  pool.post([run, handler = std::move(handler), request = std::move(request)] {
    auto r = call_guarded(*handler, request);
    {
      MutexLock g{run->mu};
      run->result.emplace(std::move(r));
    }
    run->cv.notify_all();
  });
  CondLock lock{run->mu};
  {
    WaitScope waiting{pool};
    run->cv.wait_until(lock.get(), deadline, [&]() AGENTRT_REQUIRES(run->mu) {
      return run->result.has_value() || run->stop.stop_requested();
    });
  }
  if (run->result)
    return std::move(*run->result);
  run->stop.request_stop();
  if (stop.stop_requested())
    return Error{errc::cancelled, "the call was stopped while tool '" + name + "' ran"};
  return Error{errc::timeout, "tool '" + name + "' did not finish before its deadline"};
}

ToolResult drive_async(Executor& pool, const AsyncToolHandler& handler, ToolRequest request,
                       std::stop_token stop) {
  auto deadline = request.deadline;
  request.stop = stop;
  try {
    auto task = handler(request);
    if (!task.valid())
      return Error{errc::tool_failed, "the tool returned no coroutine"};
    auto driver = std::make_shared<LocalDriver>();
    WaitScope waiting{pool};
    auto result = driver->run(task, stop, deadline);
    if (auto* why = driver->stopped()) // whatever the tool made of its failed await
      return why->code == errc::timeout
               ? Error{errc::timeout, "tool '" + request.tool + "' did not finish before its deadline"}
               : *why;
    return result;
  } catch (...) {
    return Error{errc::tool_failed, "the tool threw: " + exception_text(std::current_exception())};
  }
}

} // namespace agentrt::detail
