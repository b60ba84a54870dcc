#pragma once

// The SQLite store's schema: typed tables, one per kind of data, and its versions.
//
//   sessions(agent, session_id, turns, created, last_activity)
//   history(agent, session_id, idx, role, name, content)
//   state(agent, session_id, key, value)
//   owners(agent, owner, session_id, created)       (created since version 2)
//   requests(agent, session_id, request_id, input_hash, turn, output, interrupted, at)
//                                                    (since version 3)
//   meta(key, value)                                 schema_version
//
// Times are milliseconds since the Unix epoch.

#include "stores/sqlite/connection.hpp"

namespace agentrt::detail::sqlite {

/// The schema this code writes and understands.
inline constexpr int schema_version = 3;

/// Sets the connection up (WAL, synchronous=NORMAL, cache, busy timeout) and creates the
/// schema, or migrates an older one; returns the version the file had (0: new). Throws
/// std::runtime_error naming the file and the problem: not a database, cannot be written,
/// or a newer schema than this code knows.
int open_schema(Connection& db);

} // namespace agentrt::detail::sqlite
