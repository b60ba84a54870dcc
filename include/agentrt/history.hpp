#pragma once

// A session's conversation history and key-value state.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace agentrt {

/// Who said a history entry.
enum class Role : std::uint8_t { system, user, assistant, tool_call, tool_result };

/// The role's name: "system", "user", "assistant", "tool_call", "tool_result".
std::string_view to_string(Role role) noexcept;

/// One history entry.
struct Message {
  Role role = Role::user;
  std::string content;
  /// Free-form tag, e.g. the tool or sub-agent name; empty for user/assistant turns.
  std::string name;

  friend bool operator==(const Message&, const Message&) = default;
};

/// Committed history, oldest first.
using History = std::vector<Message>;

/// Committed key-value state of a session.
using StateMap = std::map<std::string, std::string, std::less<>>;

/// A part of a session's committed history (Runtime::history).
struct HistoryPage {
  /// The entries from index `from` on, oldest first.
  std::vector<Message> entries;
  std::uint64_t from = 0;
  /// Entries in the whole history: `from + entries.size() < total` means there are more.
  std::uint64_t total = 0;
  /// The session's committed turns.
  std::uint64_t turns = 0;
};

} // namespace agentrt
