#pragma once

// The PostgreSQL store's schema: typed tables prefixed agentrt_, one per kind of data, and
// its versions (in agentrt_meta).
//
//   agentrt_sessions(agent, session_id, turns, created, last_activity,
//                    node, address, epoch, lease_until, wanted_by, wanted_at)
//   agentrt_history(agent, session_id, idx, role, name, content,
//                   turn, epoch, node, request_id, committed_at)
//   agentrt_state(agent, session_id, key, value)
//   agentrt_owners(agent, owner, session_id, created)
//   agentrt_requests(agent, session_id, request_id, input_hash, turn, output, interrupted, at)
//   agentrt_turns: a view, one row per committed turn (turn, epoch, node, request_id,
//                  committed_at), from the history entries it wrote
//   agentrt_meta(key, value)                          schema_version
//
// The runtime's own times (created, last_activity, at) are bigint milliseconds since the
// Unix epoch, from the nodes' clocks; lease times are timestamptz from the database's clock
// only (now()), so nodes with skewed clocks agree on who holds a lease. A session row with
// turns = 0 is a claim with no committed turn. agentrt_turns audits the committed turns:
// which node (and epoch) committed each; a compacted history keeps those after its summary.

#include "stores/postgres/connection.hpp"

namespace agentrt::detail::postgres {

/// The schema this code writes and understands.
inline constexpr int schema_version = 1;

/// Creates the schema in one transaction if the database has none (concurrent openers wait
/// for each other on an advisory lock), and returns the version found (0: new). Throws
/// std::runtime_error naming the server and the problem: it cannot be written, or its
/// schema is newer than this code knows.
int open_schema(Connection& db);

} // namespace agentrt::detail::postgres
