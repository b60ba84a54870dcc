#pragma once

// Forward declarations of the actor layer (actors/), for headers that only name its types.

#include <memory>

namespace agentrt::detail {

class CallTicket;
class SessionDirectory;
struct Activity;
struct Services;
struct SessionState;
struct SupervisorState;
struct TurnJob;

using ActivityPtr = std::shared_ptr<Activity>;
using TurnJobPtr = std::shared_ptr<TurnJob>;

} // namespace agentrt::detail
