#include "core/agent_registry.hpp"

#include "core/validation.hpp"

#include <mutex>
#include <stdexcept>

namespace agentrt::detail {

template <class Entry>
void Registry<Entry>::add(const char* what, std::string name, Entry entry) {
  if (!valid_agent_name(name))
    throw std::invalid_argument(std::string{"agentrt: "} + what + " '" + name
                                + "' must be 1-64 characters of [A-Za-z0-9._:-]");
  std::unique_lock guard{mu_};
  if (entries_.count(name) > 0)
    throw std::invalid_argument(std::string{"agentrt: "} + what + " '" + name
                                + "' is already registered");
  auto key = name;
  entries_.emplace(std::move(key), std::make_shared<const Entry>(std::move(entry)));
}

void AgentRegistry::add(std::string type, AgentFactory factory, AgentOptions options) {
  if (!factory)
    throw std::invalid_argument("agentrt: agent type '" + type + "' needs a factory");
  if (options.compactor && !options.blocking)
    throw std::invalid_argument("agentrt: agent type '" + type
                                + "' has a compactor, which may wait: register it as "
                                  "blocking, or as a coroutine agent");
  Registry::add("agent type", type, AgentEntry{type, std::move(factory), {}, std::move(options)});
}

void AgentRegistry::add(std::string type, AsyncAgentFactory factory, AgentOptions options) {
  if (!factory)
    throw std::invalid_argument("agentrt: agent type '" + type + "' needs a factory");
  if (options.blocking)
    throw std::invalid_argument("agentrt: agent type '" + type
                                + "' is a coroutine agent: it waits without a thread and "
                                  "cannot be blocking");
  Registry::add("agent type", type, AgentEntry{type, {}, std::move(factory), std::move(options)});
}

void ToolRegistry::add(std::string name, ToolHandler handler, ToolOptions options) {
  if (!handler)
    throw std::invalid_argument("agentrt: tool '" + name + "' needs a handler");
  auto shared = std::make_shared<const ToolHandler>(std::move(handler));
  Registry::add("tool", name, ToolEntry{name, std::move(shared), nullptr, options});
}

void ToolRegistry::add(std::string name, AsyncToolHandler handler, ToolOptions options) {
  if (!handler)
    throw std::invalid_argument("agentrt: tool '" + name + "' needs a handler");
  auto shared = std::make_shared<const AsyncToolHandler>(std::move(handler));
  Registry::add("tool", name, ToolEntry{name, nullptr, std::move(shared), options});
}

template class Registry<AgentEntry>;
template class Registry<ToolEntry>;

} // namespace agentrt::detail
