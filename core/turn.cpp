#include <agentrt/turn.hpp>

#include "core/executor.hpp"
#include "core/session_data.hpp"
#include "core/turn_services.hpp"
#include "core/turn_tools.hpp"

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

const std::string& TurnBase::agent() const noexcept {
  return ctx_.call->agent;
}

const std::string& TurnBase::session_id() const noexcept {
  return ctx_.call->session_id;
}

std::uint64_t TurnBase::call_id() const noexcept {
  return ctx_.call->id;
}

std::uint64_t TurnBase::number() const noexcept {
  return ctx_.number;
}

const std::string& TurnBase::input() const noexcept {
  return ctx_.call->input;
}

const Params& TurnBase::params() const noexcept {
  return ctx_.call->params;
}

std::string_view TurnBase::param(std::string_view name, std::string_view fallback) const {
  auto i = ctx_.call->params.find(name);
  return i == ctx_.call->params.end() ? fallback : std::string_view{i->second};
}

const History& TurnBase::history() const noexcept {
  return ctx_.session->history;
}

TurnState& TurnBase::state() noexcept {
  return ctx_.state;
}

void TurnBase::append(Message message) {
  ctx_.appended.push_back(std::move(message));
}

void TurnBase::emit(std::string chunk) {
  ctx_.call->push(EventKind::chunk, std::move(chunk));
}

void TurnBase::phase(std::string name) {
  ctx_.call->push(EventKind::phase, std::move(name));
}

void TurnBase::thought(std::string text) {
  ctx_.call->push(EventKind::thought, std::move(text));
}

ToolResult Turn::call_tool(const std::string& tool, std::string arguments,
                           std::string operation) {
  detail::record_tool_call(ctx_, tool, arguments, operation);
  auto result = ctx_.services
                  ? ctx_.services->run_tool(ctx_, tool, std::move(arguments), std::move(operation))
                  : ToolResult{Error{errc::unknown_tool, "no tools are available to this turn"}};
  detail::end_tool(ctx_, tool, result);
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
                           + "' to be registered with AgentOptions::blocking = true, or to be "
                             "a coroutine agent (AsyncTurn::ask)";
    }
    return replies;
  }
  // A refused sub-call is a Call that has already ended, so the waits below are uniform.
  // Each child's wait-for edge stays until its reply is taken.
  std::vector<detail::ChildCall> children;
  children.reserve(requests.size());
  for (auto& r : requests)
    children.push_back(ctx_.services->start_child(parent, std::move(r)));
  {
    // Cancelling, timing out or stopping this call stops its sub-calls too.
    std::stop_callback propagate{parent->stop.get_token(), [&children] {
                                   for (auto& c : children)
                                     c.call.cancel();
                                 }};
    detail::WaitScope waiting{ctx_.services->pool()};
    for (std::size_t i = 0; i < children.size(); ++i) {
      replies[i] = children[i].call.take();
      children[i].waiting.release();
    }
  }
  return replies;
}

bool TurnBase::stop_requested() const noexcept {
  return ctx_.call->stop.stop_requested();
}

std::stop_token TurnBase::stop_token() const noexcept {
  return ctx_.call->stop.get_token();
}

void TurnBase::fail(std::string message) {
  ctx_.failed = true;
  ctx_.failure = std::move(message);
}

} // namespace agentrt
