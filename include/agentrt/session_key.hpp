#pragma once

// SessionKey: what identifies one session, the pair (agent type, session id).

#include <compare>
#include <string>

namespace agentrt {

/// One session is one (agent type, session id) pair. Two agent types that share a session id
/// (an orchestrator and its sub-agents, say) are two sessions of one conversation.
struct SessionKey {
  std::string agent;
  std::string session_id;

  friend auto operator<=>(const SessionKey&, const SessionKey&) = default;
};

/// An owner's (a user's) one active session of an agent type: see Runtime::session_for.
struct OwnerSession {
  std::string session_id;
  /// True when this request made the mapping (the id is new).
  bool created = false;
};

} // namespace agentrt
