#pragma once

// Forward declarations of the session core (core/), for headers that only name its types.

#include <memory>

namespace agentrt::detail {

class AgentRegistry;
class CallQueue;
class Executor;
class Metrics;
class ResultGate;
class SessionLink;
class StopSignal;
class ToolRegistry;
class TurnServices;
struct AgentEntry;
struct CallState;
struct MetricStripe;
struct SessionData;
struct ToolEntry;
struct TurnContext;

using CallPtr = std::shared_ptr<CallState>;

} // namespace agentrt::detail
