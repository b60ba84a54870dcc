#include <agentrt/turn.hpp>

#include "core/executor.hpp"
#include "core/session_data.hpp"
#include "core/turn_services.hpp"

#include <agentrt/errors.hpp>

namespace agentrt {

// -- TurnState --------------------------------------------------------------------------

std::optional<std::string> TurnState::get(std::string_view key) const {
  if (auto i = writes_.find(key); i != writes_.end())
    return i->second;
  if (auto i = committed_->find(key); i != committed_->end())
    return i->second;
  return std::nullopt;
}

std::string TurnState::get_or(std::string_view key, std::string_view fallback) const {
  auto value = get(key);
  return value ? std::move(*value) : std::string{fallback};
}

bool TurnState::contains(std::string_view key) const {
  if (auto i = writes_.find(key); i != writes_.end())
    return i->second.has_value();
  return committed_->find(key) != committed_->end();
}

void TurnState::set(std::string key, std::string value) {
  writes_.insert_or_assign(std::move(key), std::optional<std::string>{std::move(value)});
}

void TurnState::erase(std::string_view key) {
  writes_.insert_or_assign(std::string{key}, std::optional<std::string>{});
}

// -- Turn -------------------------------------------------------------------------------

const std::string& Turn::agent() const noexcept {
  return ctx_.call->agent;
}

const std::string& Turn::session_id() const noexcept {
  return ctx_.call->session_id;
}

std::uint64_t Turn::call_id() const noexcept {
  return ctx_.call->id;
}

std::uint64_t Turn::number() const noexcept {
  return ctx_.number;
}

const std::string& Turn::input() const noexcept {
  return ctx_.call->input;
}

const Params& Turn::params() const noexcept {
  return ctx_.call->params;
}

std::string_view Turn::param(std::string_view name, std::string_view fallback) const {
  auto i = ctx_.call->params.find(name);
  return i == ctx_.call->params.end() ? fallback : std::string_view{i->second};
}

const History& Turn::history() const noexcept {
  return ctx_.session->history;
}

TurnState& Turn::state() noexcept {
  return ctx_.state;
}

void Turn::append(Message message) {
  ctx_.appended.push_back(std::move(message));
}

void Turn::emit(std::string chunk) {
  ctx_.call->push(EventKind::chunk, std::move(chunk));
}

void Turn::phase(std::string name) {
  ctx_.call->push(EventKind::phase, std::move(name));
}

void Turn::thought(std::string text) {
  ctx_.call->push(EventKind::thought, std::move(text));
}

ToolResult Turn::call_tool(const std::string& tool, std::string arguments,
                           std::string operation) {
  auto& call = *ctx_.call;
  call.push(EventKind::tool_call, arguments, 0, {}, tool);
  ctx_.appended.push_back(
    Message{Role::tool_call, operation.empty() ? arguments : operation + " " + arguments, tool});
  auto result = ctx_.services
                  ? ctx_.services->run_tool(ctx_, tool, std::move(arguments), std::move(operation))
                  : ToolResult{Error{errc::unknown_tool, "no tools are available to this turn"}};
  auto outcome = result ? *result : "error: " + result.error().message;
  auto code = result ? std::error_code{} : result.error().code;
  ctx_.appended.push_back(Message{Role::tool_result, outcome, tool});
  call.push(EventKind::tool_result, std::move(outcome), 0, {}, tool, code);
  return result;
}

Reply Turn::ask(const std::string& agent, std::string input, Params params) {
  std::vector<SubRequest> one;
  one.push_back(SubRequest{agent, std::move(input), std::move(params)});
  return std::move(ask_all(std::move(one)).front());
}

std::vector<Reply> Turn::ask_all(std::vector<SubRequest> requests) {
  std::vector<Reply> replies(requests.size());
  auto& parent = ctx_.call;
  if (!ctx_.services || !ctx_.blocking) {
    // Waiting here would hold an actor worker that other sessions (the sub-agents among
    // them) need: refuse clearly instead of risking a stall.
    for (std::size_t i = 0; i < requests.size(); ++i) {
      replies[i].session_id = parent->session_id;
      replies[i].agent = requests[i].agent;
      replies[i].error = make_error_code(errc::blocking_required);
      replies[i].message = "Turn::ask needs the calling agent '" + parent->agent
                           + "' to be registered with AgentOptions::blocking = true";
    }
    return replies;
  }
  std::vector<Call> calls;
  calls.reserve(requests.size());
  for (auto& r : requests)
    calls.push_back(ctx_.services->start_child(parent, std::move(r)));
  // A refused sub-call is a Call that has already ended, so the waits below are uniform.
  {
    // Cancelling, timing out or stopping this call stops its sub-calls too.
    std::stop_callback propagate{parent->stop.get_token(), [&calls] {
                                   for (auto& c : calls)
                                     c.cancel();
                                 }};
    detail::WaitScope waiting{ctx_.services->pool()};
    for (std::size_t i = 0; i < calls.size(); ++i)
      replies[i] = calls[i].take();
  }
  return replies;
}

bool Turn::stop_requested() const noexcept {
  return ctx_.call->stop.stop_requested();
}

std::stop_token Turn::stop_token() const noexcept {
  return ctx_.call->stop.get_token();
}

void Turn::fail(std::string message) {
  ctx_.failed = true;
  ctx_.failure = std::move(message);
}

} // namespace agentrt
