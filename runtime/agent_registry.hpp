#pragma once

// AgentRegistry: the agent types a Runtime knows.
//
// Thread-safety: all members may be called concurrently. Entries are never removed or
// moved, so an `AgentEntry*` stays valid for the registry's lifetime: sessions keep one.

#include <agentrt/agent.hpp>

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace agentrt::detail {

struct AgentEntry {
  std::string type;
  AgentFactory factory;
  AgentOptions options;
};

class AgentRegistry {
public:
  /// Throws std::invalid_argument for a malformed or taken name, or an empty factory.
  void add(std::string type, AgentFactory factory, AgentOptions options);

  /// The entry for `type`, or null.
  const AgentEntry* find(std::string_view type) const;

private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<AgentEntry>, Hash, std::equal_to<>>
    entries_; // guarded by mu_
};

} // namespace agentrt::detail
