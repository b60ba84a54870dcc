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

/// The replies of one ask_all, gathered from whichever threads the sub-calls end on. The
/// wait-for edges are released under `mu` (each when its sub-call ends, the rest when the
/// turn stops), so no edge is released twice or by two threads at once.
struct Gather {
  std::mutex mu;
  std::vector<Reply> replies; // guarded by mu
  std::size_t left = 0;       // guarded by mu
  std::vector<ChildCall> children; // set before any sub-call can end; `waiting` guarded by mu
};

} // namespace

void start_subcalls(TurnContext& ctx, AwaitContext*, std::vector<SubRequest> requests,
                    const std::shared_ptr<ValueSlot<std::vector<Reply>>>& slot) {
  auto& parent = ctx.call;
  if (!ctx.services) {
    slot->fail(Error{errc::unknown_agent, "no sub-agents are available to this turn"});
    return;
  }
  if (requests.empty()) {
    slot->complete({}); // nothing to wait for, as Turn::ask_all
    return;
  }
  auto gather = std::make_shared<Gather>();
  gather->replies.resize(requests.size());
  gather->left = requests.size();
  gather->children.reserve(requests.size());
  for (auto& r : requests)
    gather->children.push_back(ctx.services->start_child(parent, std::move(r)));
  // A stop of this turn drops the waits and cancels the sub-calls before it resumes.
  slot->on_abandon([weak = std::weak_ptr<Gather>(gather)] {
    auto g = weak.lock();
    if (!g)
      return;
    {
      std::lock_guard guard{g->mu};
      for (auto& c : g->children)
        c.waiting.release();
    }
    for (auto& c : g->children)
      c.call.cancel(); // outside the lock: a cancel runs that sub-call's on_done here
  });
  for (std::size_t i = 0; i < gather->children.size(); ++i)
    gather->children[i].call.on_done([gather, slot, i](const Reply& reply) {
      std::vector<Reply> all;
      {
        std::lock_guard guard{gather->mu};
        gather->replies[i] = reply;
        gather->children[i].waiting.release(); // this one no longer waits
        if (--gather->left > 0)
          return;
        all = std::move(gather->replies);
      }
      slot->complete(std::move(all));
    });
}

void ToolDeadline::suspend(const std::shared_ptr<AwaitSlot>& slot) {
  pending_ = slot;
  parent_->suspend(slot);
  if (expired_)
    slot->fail(why_);
}

void ToolDeadline::after(std::chrono::steady_clock::duration delay, std::function<void()> fn) {
  parent_->after(delay, std::move(fn));
}

void ToolDeadline::arm(std::chrono::steady_clock::duration timeout) {
  // Through the turn's context: the timer runs where the turn runs. A tool that finished
  // first leaves nothing for it to do (the weak pointer is gone).
  parent_->after(timeout, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self)
      return;
    self->expired_ = true;
    if (auto slot = self->pending_.lock())
      slot->fail(self->why_);
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
