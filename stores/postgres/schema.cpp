#include "stores/postgres/schema.hpp"

#include <stdexcept>
#include <string>

namespace agentrt::detail::postgres {

namespace {

/// Any fixed number: the advisory lock every opener takes before looking at the schema,
/// so two nodes starting together do not both create it.
constexpr const char* lock_schema = "SELECT pg_advisory_xact_lock(7406001)";

const char* create_meta = "CREATE TABLE IF NOT EXISTS agentrt_meta(key text PRIMARY KEY,"
                          " value bigint NOT NULL)";

const char* create_v1[] = {
  // Every claim's epoch: never reused, so no two claims of a session share one.
  "CREATE SEQUENCE agentrt_epochs",
  "CREATE TABLE agentrt_sessions(agent text NOT NULL, session_id text NOT NULL,"
  " turns bigint NOT NULL DEFAULT 0, created bigint, last_activity bigint,"
  " node text, address text, epoch bigint NOT NULL DEFAULT 0, lease_until timestamptz,"
  " wanted_by text, wanted_at timestamptz, PRIMARY KEY(agent, session_id))"
  // Every turn updates its session's row: room left on each page keeps the new version on
  // the same page (a HOT update, no index entry to write).
  " WITH (fillfactor = 70)",
  "CREATE INDEX agentrt_sessions_created ON agentrt_sessions(created)",
  // Each entry names the turn that committed it: its number, epoch, node and request id
  // (NULL for the entries a compaction rewrote).
  "CREATE TABLE agentrt_history(agent text NOT NULL, session_id text NOT NULL,"
  " idx bigint NOT NULL, role smallint NOT NULL, name text NOT NULL, content text NOT NULL,"
  " turn bigint, epoch bigint, node text, request_id text,"
  " committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY(agent, session_id, idx))",
  "CREATE TABLE agentrt_state(agent text NOT NULL, session_id text NOT NULL,"
  " key text NOT NULL, value text NOT NULL, PRIMARY KEY(agent, session_id, key))",
  "CREATE TABLE agentrt_owners(agent text NOT NULL, owner text NOT NULL,"
  " session_id text NOT NULL, created bigint NOT NULL, PRIMARY KEY(agent, owner))",
  "CREATE INDEX agentrt_owners_session ON agentrt_owners(agent, session_id)",
  "CREATE INDEX agentrt_owners_created ON agentrt_owners(created)",
  "CREATE TABLE agentrt_requests(agent text NOT NULL, session_id text NOT NULL,"
  " request_id text NOT NULL, input_hash bigint NOT NULL, turn bigint NOT NULL,"
  " output text NOT NULL, interrupted boolean NOT NULL, at bigint NOT NULL,"
  " PRIMARY KEY(agent, session_id, request_id))",
  // The audit of committed turns, read from the entries they wrote (a separate row per turn
  // would cost every commit a quarter more).
  "CREATE VIEW agentrt_turns AS SELECT DISTINCT ON (agent, session_id, turn) agent,"
  " session_id, turn, epoch, node, request_id, committed_at FROM agentrt_history"
  " WHERE turn IS NOT NULL ORDER BY agent, session_id, turn, idx",
  "INSERT INTO agentrt_meta(key, value) VALUES('schema_version', 1)",
};

} // namespace

int open_schema(Connection& db) {
  int version = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("agentrt: PostgreSQL session store at " + db.server() + ": "
                             + why);
  };
  auto r = db.transaction([&]() -> Result<void> {
    for (auto* sql : {lock_schema, create_meta})
      if (auto ok = db.exec("create the schema", sql); !ok)
        return ok.error();
    auto v = db.exec("read the schema version",
                     "SELECT value FROM agentrt_meta WHERE key = 'schema_version'");
    if (!v)
      return v.error();
    version = v->size() == 1 ? static_cast<int>(v->integer(0, 0)) : 0;
    if (version > schema_version)
      return Error{errc::store_failed,
                   "its schema version " + std::to_string(version)
                     + " is newer than this agentrt understands ("
                     + std::to_string(schema_version)
                     + "); use a newer agentrt or another database"};
    if (version == 0)
      for (auto* sql : create_v1)
        if (auto ok = db.exec("create the schema", sql); !ok)
          return ok.error();
    return {};
  });
  if (!r)
    fail(r.error().message);
  return version;
}

} // namespace agentrt::detail::postgres
