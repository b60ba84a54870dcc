#pragma once

// Session stores: where sessions live when no actor holds them, so a conversation continues
// after its session expired for idleness, and (with a durable store) after the host
// process restarts or crashes. Two kinds, each with what it needs:
//
//   - PassivatingStore (the in-memory store, the default): a session is handed over when it
//     expires (`put`) and taken back (`load`) on its next call. Nothing per turn.
//   - DurableStore (SQLite): every committed turn is written (`commit`) before its reply is
//     released, so a reply the host received is never lost, even if the process is killed.
//
// Thread-safety: implementations must allow concurrent calls from several threads.
// Failures: return an Error (errc::store_failed, or the store's own code, with a message
// naming what failed). A store that throws is tolerated (the runtime treats the exception
// as store_failed for the operation concerned and logs its text), not invited.

#include <agentrt/history.hpp>
#include <agentrt/postgres_options.hpp>
#include <agentrt/result.hpp>
#include <agentrt/session_key.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentrt {

/// A request id whose turn committed (Request::request_id): what a retry gets back.
struct StoredRequest {
  std::string request_id;
  /// A fingerprint of the request's input and params (a retry must match it).
  std::uint64_t input_hash = 0;
  /// The turn it committed, and that turn's reply output.
  std::uint64_t turn = 0;
  std::string output;
  /// The turn was interrupted (its output kept, its reply `interrupted`).
  bool interrupted = false;
  std::chrono::system_clock::time_point at;
};

/// A whole session as stored.
struct StoredSession {
  SessionKey key;
  History history;
  StateMap state;
  std::uint64_t turns = 0;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point last_activity;
  /// Its recent request ids, oldest first (a store may keep fewer: the runtime keeps at
  /// most RuntimeConfig::request_ids_kept of them).
  std::vector<StoredRequest> requests;
};

/// One committed turn: what a durable store appends.
struct TurnRecord {
  SessionKey key;
  /// The session's committed turns after this one.
  std::uint64_t turns = 0;
  /// History index of `entries.front()` (the history size before the turn).
  std::uint64_t first_index = 0;
  /// Set when the turn's commit compacted the history (AgentOptions::history_limit): the
  /// whole history the entries follow, replacing what is stored.
  std::optional<History> history_before;
  /// New history entries: the user's input, the turn's own entries, the output.
  std::vector<Message> entries;
  /// State writes in key order; nullopt erases the key.
  std::vector<std::pair<std::string, std::optional<std::string>>> state_writes;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point last_activity;
  /// The call's request id, if it had one: stored with the turn, in the same transaction.
  std::optional<StoredRequest> request;
};

/// What every store does.
class SessionStore {
public:
  virtual ~SessionStore() = default;

  /// The stored session of `key`, or nullopt when there is none.
  virtual Result<std::optional<StoredSession>> load(const SessionKey& key) = 0;

  /// Removes the session of `key` (history, state, and its owner mapping), after any turn
  /// of it handed to `commit` before.
  virtual Result<void> erase(const SessionKey& key) = 0;

  /// The session id of `owner` for `agent`; when it has none, `candidate` becomes it
  /// (`created` says so). Atomic, also across processes sharing a durable store: racing
  /// callers all get one id.
  virtual Result<OwnerSession> owner_session(std::string_view agent, std::string_view owner,
                                             const std::string& candidate) = 0;

  /// Stored sessions created before `created_before` and last active before
  /// `active_before`, and owner mappings made before `created_before` whose session was
  /// never stored: past their lifetime. The runtime erases those no live session holds.
  virtual Result<std::vector<SessionKey>>
  expired(std::chrono::system_clock::time_point created_before,
          std::chrono::system_clock::time_point active_before) = 0;
  /// A copy of the stored session of `key`, which stays stored (Runtime::history and
  /// state read it when no session is live), or nullopt. The default says the store
  /// cannot; both stores agentrt ships can.
  virtual Result<std::optional<StoredSession>> read(const SessionKey& key);
};

/// A store that receives sessions when they expire and hands them back on their next call.
class PassivatingStore : public SessionStore {
public:
  /// Stores a whole session, replacing what was stored for its key (its owner mapping
  /// stays). On success the store may have moved from `session`; on failure (an Error) it
  /// must be untouched: the runtime keeps the session live with it. Do not throw after
  /// moving from it: the runtime cannot tell, and the session's context would be lost.
  virtual Result<void> put(StoredSession& session) = 0;
};

/// A store that writes every committed turn before its reply is released.
class DurableStore : public SessionStore {
public:
  /// A durable store's load leaves the session stored: reading is loading.
  Result<std::optional<StoredSession>> read(const SessionKey& key) override {
    return load(key);
  }

  /// Writes `record` (all or nothing) and then calls `done` with the outcome, possibly on
  /// another thread and together with other sessions' turns in one transaction. `record`
  /// must stay unchanged until `done` runs. A turn whose predecessor is not stored, or
  /// that was stored already, fails.
  virtual void commit(std::shared_ptr<const TurnRecord> record,
                      std::function<void(Result<void>)> done) = 0;

  // -- leases: a store shared by several nodes (processes) -------------------------------------
  //
  // A store that leases sessions to nodes (PostgreSQL) makes `load` a claim: it takes the
  // session's lease for this node, bumping its epoch, or fails with errc::session_elsewhere
  // (make_elsewhere_error) while another node holds a live lease. Each `commit` is then
  // conditional on that epoch and on the previous turn: a node that lost the lease fails
  // with errc::lease_lost and never writes. `read` must never claim: a leasing store
  // overrides it (the default above reads by loading). A store without leases (SQLite, the
  // default) keeps these defaults.

  /// Whether this node still holds the lease of `key` it took in `load`. False once the lease
  /// was lost or could not be renewed in time: the live session drops what it holds and
  /// loads (claims) again before its next turn. Cheap: asked before every turn.
  virtual bool holds(const SessionKey& /*key*/) const noexcept {
    return true;
  }

  /// The live session of `key` ended on this node (idle expiry, shutdown): its lease is let go
  /// so another node may claim it at once. Must not block; runs after every commit of the
  /// session handed over before it.
  virtual void release(const SessionKey& /*key*/) {
    // nop
  }
};

/// The error a leasing store's `load` returns when another node holds the session: its
/// message names the node's address, which `elsewhere_address` reads back (a front end
/// sends it to the client, e.g. as the X-Agentrt-Owner header).
Error make_elsewhere_error(std::string_view node, std::string_view address);

/// The owner's address in a session_elsewhere message (make_elsewhere_error), or empty.
std::string elsewhere_address(std::string_view message);


/// The in-memory store: what a Runtime uses when none is configured.
std::shared_ptr<PassivatingStore> make_memory_store();

/// Opens (creating if needed) a SQLite store at `path`: WAL mode, schema created on first
/// open and migrated from older versions. Throws std::runtime_error with a message naming
/// the file and the problem when it cannot be opened or written, is not a database, or has
/// a newer schema.
std::shared_ptr<DurableStore> open_sqlite_store(const std::string& path);

/// Connects to a PostgreSQL store shared by any number of nodes: sessions are leased to one
/// node at a time and every commit is fenced by the lease's epoch (see DurableStore). The
/// schema is created on first use and migrated from older versions. Group commit on one
/// writer connection; reconnects with backoff (while the database is down, loads and
/// commits fail with store_failed and nothing is acknowledged). Throws std::runtime_error
/// naming the server and the problem when the database cannot be reached at open, refuses
/// the login, or has a newer schema.
std::shared_ptr<DurableStore> open_postgres_store(PostgresOptions options);

} // namespace agentrt
