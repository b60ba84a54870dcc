#pragma once

// Forward declarations of the runtime layer (runtime/), for headers that only name its types.

namespace agentrt::detail {

class BlockingPool;
class IdMinter;
class RuntimeCore;
class TurnHub;

} // namespace agentrt::detail
