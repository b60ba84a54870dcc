#pragma once

// The agent types and tools a Runtime knows.
//
// Thread-safety: all members may be called concurrently. Entries are immutable and shared:
// a session (and a turn running on a pool thread) holds its entry, so an entry outlives
// the registry when the Runtime is destroyed while a factory or a tool still runs.

#include <agentrt/agent.hpp>
#include <agentrt/tool.hpp>

#include <algorithm>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace agentrt::detail {

/// An agent type: exactly one of the two factories is set.
struct AgentEntry {
  std::string type;
  AgentFactory factory;
  AsyncAgentFactory async_factory;
  AgentOptions options;

  bool is_async() const noexcept {
    return static_cast<bool>(async_factory);
  }
};

/// A tool: exactly one of the two handlers is set. Shared, so a blocking tool call abandoned
/// at its deadline keeps its handler alive.
struct ToolEntry {
  std::string name;
  std::shared_ptr<const ToolHandler> handler;
  std::shared_ptr<const AsyncToolHandler> async_handler;
  ToolOptions options;
};

/// Named entries, validated names, no duplicates.
template <class Entry>
class Registry {
public:
  /// `what` names the kind in error messages ("agent type", "tool"). Throws
  /// std::invalid_argument for a malformed or taken name.
  void add(const char* what, std::string name, Entry entry);

  /// The entry for `name`, or null.
  std::shared_ptr<const Entry> find(std::string_view name) const {
    std::shared_lock guard{mu_};
    auto i = entries_.find(name);
    return i == entries_.end() ? nullptr : i->second;
  }

  bool contains(std::string_view name) const {
    std::shared_lock guard{mu_};
    return entries_.find(name) != entries_.end();
  }

  /// Every registered name, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    {
      std::shared_lock guard{mu_};
      out.reserve(entries_.size());
      for (auto& [name, entry] : entries_)
        out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>, Hash, std::equal_to<>>
    entries_; // guarded by mu_
};

class AgentRegistry : public Registry<AgentEntry> {
public:
  /// Throws std::invalid_argument for a malformed or taken name, or an empty factory.
  void add(std::string type, AgentFactory factory, AgentOptions options);
  /// Also for `options.blocking` (a coroutine agent never blocks).
  void add(std::string type, AsyncAgentFactory factory, AgentOptions options);
};

class ToolRegistry : public Registry<ToolEntry> {
public:
  /// Throws std::invalid_argument for a malformed or taken name, or an empty handler.
  void add(std::string name, ToolHandler handler, ToolOptions options);
  void add(std::string name, AsyncToolHandler handler, ToolOptions options);
};

} // namespace agentrt::detail
