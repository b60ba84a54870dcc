#pragma once

// Forward declarations of the store layer (stores/), for headers that only name its types.

namespace agentrt::detail {

class GuardedStore;

} // namespace agentrt::detail
