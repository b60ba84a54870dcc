#pragma once

// SessionStore: where sessions live when no actor holds them, so a conversation continues
// after its session expired for idleness, and (with a durable store) after the host
// process restarts or crashes.
//
// Two kinds of store:
//   - passivating (the in-memory store, the default): the runtime hands a session over
//     when it expires and takes it back on the next call. Nothing per turn.
//   - write-through (SQLite): every committed turn is saved before its reply is released,
//     so a reply the host received is never lost, even if the process is killed.
//
// Thread-safety: implementations must allow concurrent calls from several threads.
// Failures: return an error code. A store that throws is tolerated (the runtime treats the
// exception as `store_failed` for the operation concerned and logs its text), not invited.

#include <agentrt/history.hpp>
#include <agentrt/session_key.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace agentrt {

/// A whole session as stored.
struct StoredSession {
  SessionKey key;
  History history;
  StateMap state;
  std::uint64_t turns = 0;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point last_activity;
};

/// One committed turn: what a write-through store appends.
struct TurnRecord {
  SessionKey key;
  /// The session's committed turns after this one.
  std::uint64_t turns = 0;
  /// History index of `entries.front()` (the history size before the turn).
  std::uint64_t first_index = 0;
  /// New history entries: the user's input, the turn's own entries, the output.
  std::vector<Message> entries;
  /// State writes in key order; nullopt erases the key.
  std::vector<std::pair<std::string, std::optional<std::string>>> state_writes;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point last_activity;
};

class SessionStore {
public:
  virtual ~SessionStore() = default;

  /// True if every committed turn must be saved (`save`) before its reply is released;
  /// false if sessions are handed over only when they expire (`put`).
  virtual bool write_through() const noexcept = 0;

  /// The stored session of `key`: `out` is left empty when there is none. An error means
  /// the store could not be read (the call fails with `store_failed`).
  virtual std::error_code load(const SessionKey& key, std::optional<StoredSession>& out) = 0;

  /// Applies one committed turn, all or nothing.
  virtual std::error_code save(const TurnRecord& record) = 0;

  /// Saves `record` and then calls `done` with the outcome, possibly on another thread and
  /// together with other sessions' turns in one commit. `record` must stay unchanged until
  /// `done` runs. The default saves at once, on the calling thread.
  virtual void save_async(std::shared_ptr<const TurnRecord> record,
                          std::function<void(std::error_code)> done) {
    done(save(*record));
  }

  /// Stores a whole session, replacing what was stored for its key (its owner mapping
  /// stays). On success the store may have moved from `session`; on failure it is untouched.
  virtual std::error_code put(StoredSession& session) = 0;

  /// Removes the session of `key` (history, state, and its owner mapping), after any turn
  /// of it that was handed to `save_async` before.
  virtual std::error_code erase(const SessionKey& key) = 0;

  /// The session id of `owner` for `agent`; when it has none, `candidate` becomes it. Atomic,
  /// also across processes sharing a durable store: racing callers all get one id.
  /// `created` tells whether `candidate` was taken.
  virtual std::error_code owner_session(std::string_view agent, std::string_view owner,
                                        const std::string& candidate, std::string& out,
                                        bool& created) = 0;

  /// The stored sessions of `owner` (one per agent type).
  virtual std::error_code list_by_owner(std::string_view owner, std::vector<SessionKey>& out) = 0;

  /// The stored sessions created before `created_before` and last active before
  /// `active_before`: past their lifetime. The runtime erases those no live session holds.
  virtual std::error_code expired(std::chrono::system_clock::time_point created_before,
                                  std::chrono::system_clock::time_point active_before,
                                  std::vector<SessionKey>& out) = 0;
};

/// The in-memory store (passivating): what a Runtime uses when none is configured.
std::shared_ptr<SessionStore> make_memory_store();

/// Opens (creating if needed) a SQLite session store at `path`: WAL mode, schema created on
/// first open. Throws std::runtime_error with a message naming the file and the problem
/// when it cannot be opened or written, is not a database, or has a newer schema.
std::shared_ptr<SessionStore> open_sqlite_store(const std::string& path);

} // namespace agentrt
