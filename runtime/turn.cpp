#include <agentrt/turn.hpp>

#include "runtime/session_data.hpp"

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
