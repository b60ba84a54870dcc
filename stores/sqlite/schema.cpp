#include "stores/sqlite/schema.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

namespace agentrt::detail::sqlite {

namespace {

const char* create_v2 =
  "CREATE TABLE sessions(agent TEXT NOT NULL, session_id TEXT NOT NULL,"
  " turns INTEGER NOT NULL, created INTEGER NOT NULL, last_activity INTEGER NOT NULL,"
  " PRIMARY KEY(agent, session_id)) WITHOUT ROWID;"
  "CREATE INDEX sessions_created ON sessions(created);"
  "CREATE TABLE history(agent TEXT NOT NULL, session_id TEXT NOT NULL,"
  " idx INTEGER NOT NULL, role INTEGER NOT NULL, name TEXT NOT NULL,"
  " content TEXT NOT NULL, PRIMARY KEY(agent, session_id, idx)) WITHOUT ROWID;"
  "CREATE TABLE state(agent TEXT NOT NULL, session_id TEXT NOT NULL, key TEXT NOT NULL,"
  " value TEXT NOT NULL, PRIMARY KEY(agent, session_id, key)) WITHOUT ROWID;"
  "CREATE TABLE owners(agent TEXT NOT NULL, owner TEXT NOT NULL,"
  " session_id TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(agent, owner))"
  " WITHOUT ROWID;"
  "CREATE INDEX owners_session ON owners(agent, session_id);"
  "CREATE INDEX owners_created ON owners(created);"
  "INSERT INTO meta(key, value) VALUES('schema_version', 2);";

/// Version 2 -> 3: request ids, stored with the turn they committed.
const char* migrate_2_to_3 =
  "CREATE TABLE requests(agent TEXT NOT NULL, session_id TEXT NOT NULL,"
  " request_id TEXT NOT NULL, input_hash INTEGER NOT NULL, turn INTEGER NOT NULL,"
  " output TEXT NOT NULL, interrupted INTEGER NOT NULL, at INTEGER NOT NULL,"
  " PRIMARY KEY(agent, session_id, request_id)) WITHOUT ROWID;"
  "UPDATE meta SET value = 3 WHERE key = 'schema_version';";

/// Version 1 -> 2: owners.created, so an unused owner mapping expires with max_lifetime.
/// Mappings made before the upgrade get a whole lifetime from now.
std::string migrate_1_to_2() {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  return "ALTER TABLE owners ADD COLUMN created INTEGER NOT NULL DEFAULT 0;"
         "UPDATE owners SET created = "
         + std::to_string(now)
         + ";"
           "CREATE INDEX owners_created ON owners(created);"
           "UPDATE meta SET value = 2 WHERE key = 'schema_version';";
}

int read_version(Connection& db) {
  Statement s{db, "SELECT value FROM meta WHERE key = 'schema_version'"};
  return s.step() == SQLITE_ROW ? static_cast<int>(s.integer(0)) : 0;
}

} // namespace

int open_schema(Connection& db) {
  db.exec_or_throw("PRAGMA busy_timeout=5000", "set the busy timeout"); // other processes
  db.exec_or_throw("PRAGMA journal_mode=WAL", "enable WAL");
  // NORMAL in WAL mode: a commit survives a process crash (the data is in the OS); only a
  // power loss can take the last commits back.
  db.exec_or_throw("PRAGMA synchronous=NORMAL", "set synchronous");
  db.exec_or_throw("PRAGMA cache_size=-32768", "set the cache size"); // 32 MiB
  // Checkpoints run on the writer thread; fewer, larger ones keep commits short.
  db.exec_or_throw("PRAGMA wal_autocheckpoint=8192", "set the checkpoint interval");
  // Reading the schema is the first real access: a file that is not a database fails here.
  db.exec_or_throw("BEGIN IMMEDIATE", "open the database (is it a SQLite file, and writable?)");
  auto fail = [&](const std::string& why) {
    db.exec("ROLLBACK");
    throw std::runtime_error("agentrt: session store '" + db.path() + "': " + why);
  };
  if (db.exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
      != SQLITE_OK)
    fail("cannot create the schema: " + db.last_error());
  int version = read_version(db);
  if (version > schema_version)
    fail("its schema version " + std::to_string(version)
         + " is newer than this agentrt understands (" + std::to_string(schema_version)
         + "); use a newer agentrt or another file");
  if (version == 0 && db.exec(create_v2) != SQLITE_OK)
    fail("cannot create the schema: " + db.last_error());
  if (version == 1 && db.exec(migrate_1_to_2().c_str()) != SQLITE_OK)
    fail("cannot migrate the schema from version 1: " + db.last_error());
  if (version < 3 && db.exec(migrate_2_to_3) != SQLITE_OK)
    fail("cannot migrate the schema to version 3: " + db.last_error());
  if (db.exec("COMMIT") != SQLITE_OK)
    fail("cannot write: " + db.last_error());
  return version;
}

} // namespace agentrt::detail::sqlite
