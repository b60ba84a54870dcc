#pragma once

// Checks a RuntimeConfig and fills in what it leaves to the runtime.

#include <agentrt/config.hpp>

namespace agentrt::detail {

/// Throws std::invalid_argument naming the field for a value that makes no sense (a zero
/// thread count, queue depth, input limit or duration). Saturates every duration at
/// `forever` (a century), fills unset thread and shard counts, and makes the default store
/// (in memory, or SQLite at `store_path`: std::runtime_error if the file cannot be used) and
/// logger (a null sink).
RuntimeConfig resolved(RuntimeConfig config);

} // namespace agentrt::detail
