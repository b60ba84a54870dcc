// The public Runtime: a pimpl over RuntimeCore.

#include <agentrt/runtime.hpp>

#include "core/agent_registry.hpp"
#include "runtime/runtime_core.hpp"

#include <stdexcept>

namespace agentrt {

namespace {

/// The agent behind `register_handler`: every session's instance calls the same function.
class FunctionAgent final : public Agent {
public:
  explicit FunctionAgent(std::shared_ptr<const TurnHandler> fn) : fn_(std::move(fn)) {
    // nop
  }

  std::string handle(Turn& turn) override {
    return (*fn_)(turn);
  }

private:
  std::shared_ptr<const TurnHandler> fn_;
};

/// The agent behind `register_handler` with a coroutine function.
class AsyncFunctionAgent final : public AsyncAgent {
public:
  explicit AsyncFunctionAgent(std::shared_ptr<const AsyncTurnHandler> fn) : fn_(std::move(fn)) {
    // nop
  }

  Task<std::string> handle(AsyncTurn& turn) override {
    return (*fn_)(turn);
  }

private:
  std::shared_ptr<const AsyncTurnHandler> fn_;
};

void check_depth(const std::string& type, const AgentOptions& options) {
  if (options.max_queue_depth && *options.max_queue_depth == 0)
    throw std::invalid_argument("agentrt: agent type '" + type
                                + "': max_queue_depth must be at least 1 (or unset)");
}

} // namespace

Runtime::Runtime(RuntimeConfig config)
  : core_(std::make_unique<detail::RuntimeCore>(std::move(config))) {
  // nop
}

Runtime::~Runtime() = default;

void Runtime::register_agent(std::string type, AgentFactory factory, AgentOptions options) {
  check_depth(type, options);
  core_->registry.add(std::move(type), std::move(factory), options);
}

void Runtime::register_agent(std::string type, AsyncAgentFactory factory, AgentOptions options) {
  check_depth(type, options);
  core_->registry.add(std::move(type), std::move(factory), options);
}

void Runtime::register_handler(std::string type, AsyncTurnHandler handler,
                               AgentOptions options) {
  if (!handler)
    throw std::invalid_argument("agentrt: agent type '" + type + "' needs a handler");
  auto fn = std::make_shared<const AsyncTurnHandler>(std::move(handler));
  register_agent(
    std::move(type),
    AsyncAgentFactory{[fn](const SessionKey&) { return std::make_unique<AsyncFunctionAgent>(fn); }},
    options);
}

void Runtime::register_handler(std::string type, TurnHandler handler, AgentOptions options) {
  if (!handler)
    throw std::invalid_argument("agentrt: agent type '" + type + "' needs a handler");
  auto fn = std::make_shared<const TurnHandler>(std::move(handler));
  register_agent(
    std::move(type),
    AgentFactory{[fn](const SessionKey&) { return std::make_unique<FunctionAgent>(fn); }},
    options);
}

void Runtime::register_tool(std::string name, ToolHandler handler, ToolOptions options) {
  if (options.timeout && options.timeout->count() <= 0)
    throw std::invalid_argument("agentrt: tool '" + name
                                + "': timeout must be positive (or unset)");
  core_->tools->add(std::move(name), std::move(handler), options);
}

void Runtime::register_tool(std::string name, AsyncToolHandler handler, ToolOptions options) {
  if (options.timeout && options.timeout->count() <= 0)
    throw std::invalid_argument("agentrt: tool '" + name
                                + "': timeout must be positive (or unset)");
  core_->tools->add(std::move(name), std::move(handler), options);
}

Result<Call> Runtime::invoke(Request request) {
  return core_->invoke(std::move(request));
}

void Runtime::run_tool(ToolCall call, std::function<void(ToolReply)> done) {
  core_->run_tool(std::move(call), std::move(done));
}

Result<Call> Runtime::attach(const SessionKey& key, std::uint64_t call_id, std::uint64_t after_seq,
                             std::function<void(const Event&)> on_event) {
  return core_->attach(key, call_id, after_seq, std::move(on_event));
}

Reply Runtime::ask(Request request) {
  return core_->ask(std::move(request));
}

Result<OwnerSession> Runtime::session_for(std::string_view agent, std::string_view owner) {
  return core_->session_for(agent, owner);
}

Result<bool> Runtime::close(const SessionKey& key) {
  return core_->close(key);
}

std::vector<std::string> Runtime::agent_types() const {
  return core_->registry.names();
}

std::vector<std::string> Runtime::tool_names() const {
  return core_->tools->names();
}

Result<SessionInfo> Runtime::describe(const SessionKey& key) const {
  return core_->describe(key);
}

Result<HistoryPage> Runtime::history(const SessionKey& key, std::uint64_t from,
                                     std::size_t limit) const {
  auto view = core_->read(key, from, limit, false);
  if (!view)
    return std::move(view).error();
  return std::move(view->page);
}

Result<StateMap> Runtime::state(const SessionKey& key) const {
  auto view = core_->read(key, 0, 0, true);
  if (!view)
    return std::move(view).error();
  return std::move(view->state);
}

RuntimeStats Runtime::stats() const {
  return core_->metrics.snapshot();
}

const RuntimeConfig& Runtime::config() const noexcept {
  return core_->config;
}

void Runtime::shutdown(std::chrono::milliseconds drain) {
  core_->shutdown(drain);
}

} // namespace agentrt
