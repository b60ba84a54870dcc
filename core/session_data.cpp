#include "core/session_data.hpp"

#include "core/compaction.hpp"

#include "core/agent_registry.hpp"
#include "core/current_turn.hpp"
#include "core/exception_text.hpp"

#include <algorithm>
#include <exception>

namespace agentrt::detail {

CurrentTurn& current_turn() noexcept {
  thread_local CurrentTurn current;
  return current;
}

void run_turn(TurnContext& ctx) noexcept {
  auto& session = *ctx.session;
  TurnScope scope{session.key, ctx.blocking};
  if (!session.agent) {
    try {
      session.agent = session.entry->factory(session.key);
      if (!session.agent) {
        ctx.failed = true;
        ctx.failure = "the agent factory returned no agent";
      }
    } catch (...) {
      ctx.failed = true;
      ctx.failure = "the agent factory threw: " + exception_text(std::current_exception());
    }
  }
  if (!ctx.failed) {
    try {
      Turn turn{ctx};
      auto output = session.agent->handle(turn);
      if (!ctx.failed)
        ctx.output = std::move(output);
    } catch (...) {
      ctx.failed = true;
      ctx.failure = exception_text(std::current_exception());
    }
  }
}

bool start_coroutine_turn(TurnContext& ctx, AsyncTurn& turn, Task<std::string>& task) noexcept {
  auto& session = *ctx.session;
  TurnScope scope{session.key, false};
  try {
    if (!session.async_agent) {
      session.async_agent = session.entry->async_factory(session.key);
      if (!session.async_agent) {
        ctx.failed = true;
        ctx.failure = "the agent factory returned no agent";
        return false;
      }
    }
  } catch (...) {
    ctx.failed = true;
    ctx.failure = "the agent factory threw: " + exception_text(std::current_exception());
    return false;
  }
  try {
    task = session.async_agent->handle(turn);
  } catch (...) {
    ctx.failed = true;
    ctx.failure = exception_text(std::current_exception());
    return false;
  }
  if (!task.valid()) {
    ctx.failed = true;
    ctx.failure = "the handler returned no coroutine";
    return false;
  }
  return true;
}

TurnRecord make_record(const SessionData& session, TurnContext& ctx) {
  TurnRecord r;
  r.key = session.key;
  r.turns = session.turns + 1;
  r.first_index = session.history.size();
  if (ctx.fold > 0) { // compaction: the history the turn's entries follow
    r.history_before = folded(session.history, ctx.fold, ctx.summary);
    r.first_index = r.history_before->size();
  }
  r.entries.reserve(ctx.appended.size() + 2);
  r.entries.push_back(Message{Role::user, ctx.call->input, {}});
  for (auto& msg : ctx.appended)
    r.entries.push_back(std::move(msg));
  r.entries.push_back(Message{Role::assistant, std::move(ctx.output), {}});
  r.state_writes.assign(ctx.state.writes().begin(), ctx.state.writes().end());
  r.created = session.created;
  r.last_activity = std::chrono::system_clock::now();
  return r;
}

void apply_record(SessionData& session, TurnRecord&& r) {
  if (r.history_before)
    session.history = std::move(*r.history_before);
  // No reserve(size + n) here: an exact reserve defeats geometric growth and would copy the
  // whole history on every turn.
  for (auto& msg : r.entries)
    session.history.push_back(std::move(msg));
  for (auto& [key, value] : r.state_writes) {
    if (value)
      session.state.insert_or_assign(key, std::move(*value));
    else if (auto i = session.state.find(key); i != session.state.end())
      session.state.erase(i);
  }
  session.turns = r.turns;
}

void commit_turn(SessionData& session, TurnContext& ctx) {
  // The same effect as apply_record(make_record(...)), without building a record: this is
  // the in-memory hot path.
  auto& history = session.history;
  if (ctx.fold > 0) { // compaction (rare): the oldest entries give way to the summary
    history.erase(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(ctx.fold));
    if (ctx.summary)
      history.insert(history.begin(), summary_entry(std::move(*ctx.summary)));
  }
  // Room for the whole turn at once (growing geometrically, as push_back would): a first
  // turn then allocates once, not once per entry.
  auto adding = 2 + ctx.appended.size();
  if (history.capacity() - history.size() < adding)
    history.reserve(std::max(2 * history.capacity(), history.size() + adding));
  history.push_back(Message{Role::user, ctx.call->input, {}});
  for (auto& msg : ctx.appended)
    history.push_back(std::move(msg));
  history.push_back(Message{Role::assistant, std::move(ctx.output), {}});
  for (auto& [key, value] : ctx.state.writes()) {
    if (value)
      session.state.insert_or_assign(key, *value);
    else if (auto i = session.state.find(key); i != session.state.end())
      session.state.erase(i);
  }
  session.turns += 1;
}

} // namespace agentrt::detail
