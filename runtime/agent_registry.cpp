#include "runtime/agent_registry.hpp"

#include "runtime/validation.hpp"

#include <mutex>
#include <stdexcept>

namespace agentrt::detail {

void AgentRegistry::add(std::string type, AgentFactory factory, AgentOptions options) {
  if (!valid_agent_name(type))
    throw std::invalid_argument("agentrt: agent type '" + type
                                + "' must be 1-64 characters of [A-Za-z0-9._:-]");
  if (!factory)
    throw std::invalid_argument("agentrt: agent type '" + type + "' needs a factory");
  std::unique_lock guard{mu_};
  if (entries_.count(type) > 0)
    throw std::invalid_argument("agentrt: agent type '" + type + "' is already registered");
  auto entry = std::make_unique<AgentEntry>(AgentEntry{type, std::move(factory), options});
  entries_.emplace(std::move(type), std::move(entry));
}

const AgentEntry* AgentRegistry::find(std::string_view type) const {
  std::shared_lock guard{mu_};
  auto i = entries_.find(type);
  return i == entries_.end() ? nullptr : i->second.get();
}

} // namespace agentrt::detail
