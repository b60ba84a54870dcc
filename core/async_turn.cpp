// The coroutine turn's awaits that reach beyond the session: sub-calls and tools (the
// awaiters themselves are templates in include/agentrt/async_turn.hpp).

#include <agentrt/async_turn.hpp>

#include "core/session_data.hpp"
#include "core/turn_services.hpp"
#include "core/turn_tools.hpp"

#include <mutex>

namespace agentrt::detail {

void record_tool_call(TurnContext& ctx, const std::string& tool, const std::string& arguments,
                      const std::string& operation) {
  ctx.call->push(EventKind::tool_call, arguments, 0, {}, tool);
  ctx.appended.push_back(
    Message{Role::tool_call, operation.empty() ? arguments : operation + " " + arguments, tool});
}

void end_tool(TurnContext& ctx, const std::string& tool, const ToolResult& result) {
  auto outcome = result ? *result : "error: " + result.error().message;
  auto code = result ? std::error_code{} : result.error().code;
  ctx.appended.push_back(Message{Role::tool_result, outcome, tool});
  ctx.call->push(EventKind::tool_result, std::move(outcome), 0, {}, tool, code);
}

ToolStart begin_tool(TurnContext& ctx, const std::string& tool, std::string arguments,
                     std::string operation) {
  record_tool_call(ctx, tool, arguments, operation);
  if (!ctx.services) {
    ToolStart none;
    none.ready = ToolResult{Error{errc::unknown_tool, "no tools are available to this turn"}};
    return none;
  }
  return ctx.services->start_tool(ctx, tool, std::move(arguments), std::move(operation));
}

namespace {

/// The replies of one ask_all, gathered from whichever threads the sub-calls end on.
struct Gather {
  std::mutex mu;
  std::vector<Reply> replies; // guarded by mu
  std::size_t left = 0;       // guarded by mu
  std::vector<ChildCall> children;
};

} // namespace

void start_subcalls(TurnContext& ctx, AwaitContext*, std::vector<SubRequest> requests,
                    const std::shared_ptr<ValueSlot<std::vector<Reply>>>& slot) {
  auto& parent = ctx.call;
  if (!ctx.services) {
    slot->fail(Error{errc::unknown_agent, "no sub-agents are available to this turn"});
    return;
  }
  auto gather = std::make_shared<Gather>();
  gather->replies.resize(requests.size());
  gather->left = requests.size();
  gather->children.reserve(requests.size());
  for (auto& r : requests)
    gather->children.push_back(ctx.services->start_child(parent, std::move(r)));
  // A stop of this turn cancels the sub-calls (and drops the waits) before it resumes.
  slot->on_abandon([weak = std::weak_ptr<Gather>(gather)] {
    if (auto g = weak.lock())
      for (auto& c : g->children) {
        c.call.cancel();
        c.waiting.release();
      }
  });
  for (std::size_t i = 0; i < gather->children.size(); ++i)
    gather->children[i].call.on_done([gather, slot, i](const Reply& reply) {
      std::vector<Reply> all;
      {
        std::lock_guard guard{gather->mu};
        gather->replies[i] = reply;
        if (--gather->left > 0)
          return;
        all = std::move(gather->replies);
      }
      for (auto& c : gather->children)
        c.waiting.release();
      slot->complete(std::move(all));
    });
}

std::vector<Reply> replies_for_stop(const TurnContext& ctx, const std::vector<std::string>& agents,
                                    const Error& why) {
  std::vector<Reply> replies(agents.size());
  for (std::size_t i = 0; i < agents.size(); ++i) {
    replies[i].session_id = ctx.call->session_id;
    replies[i].agent = agents[i];
    replies[i].error = why.code;
    replies[i].message = why.message;
  }
  return replies;
}

AskAwaiter::AskAwaiter(TurnContext& ctx, std::vector<SubRequest> requests, bool)
  : ctx_(&ctx),
    agents_([&] {
      std::vector<std::string> a;
      for (auto& r : requests)
        a.push_back(r.agent);
      return a;
    }()),
    inner_(Start{[ctx = &ctx, requests = std::move(requests)](
                   AwaitContext* context,
                   const std::shared_ptr<ValueSlot<std::vector<Reply>>>& slot) mutable {
      start_subcalls(*ctx, context, std::move(requests), slot);
    }}) {
  // nop
}

std::vector<Reply> AskAwaiter::replies() {
  auto r = inner_.await_resume();
  if (r)
    return std::move(*r);
  return replies_for_stop(*ctx_, agents_, r.error());
}

} // namespace agentrt::detail
