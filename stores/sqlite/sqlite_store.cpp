// The SQLite session store: durable. Reads run on the caller's thread; turns and erases go
// through the writer thread, which commits everything queued in one transaction (group
// commit); each turn's caller hears back only after that commit. Other processes may use
// the same file (SQLite's locking, with a busy timeout).

#include "stores/batch_writer.hpp"
#include "stores/sqlite/connection.hpp"
#include "stores/sqlite/schema.hpp"
#include "stores/time_ms.hpp"

#include "core/thread_annotations.hpp"

#include <agentrt/session_store.hpp>

#include <chrono>

namespace agentrt {

namespace {

using detail::BatchWork;
using detail::BatchWriter;
using detail::Mutex;
using detail::MutexLock;
using detail::from_ms;
using detail::to_ms;
using namespace detail::sqlite;

/// Every statement the store runs, each prepared once. Declared after the connection they
/// use, so they are finalized before it closes.
struct Statements {
  explicit Statements(Connection& c) : db(c) {
    // nop
  }
  Connection& db;
  Statement select_session{db, "SELECT turns, created, last_activity FROM sessions"
                               " WHERE agent = ?1 AND session_id = ?2"};
  Statement select_history{db, "SELECT role, name, content FROM history"
                               " WHERE agent = ?1 AND session_id = ?2 ORDER BY idx"};
  Statement select_state{db, "SELECT key, value FROM state WHERE agent = ?1 AND session_id = ?2"};
  // A turn moves its session's row from turn N-1 to N only (?5 = N-1).
  Statement update_session{db, "UPDATE sessions SET turns = ?3, last_activity = ?4"
                               " WHERE agent = ?1 AND session_id = ?2 AND turns = ?5"};
  Statement insert_session{db, "INSERT INTO sessions(agent, session_id, turns, created,"
                               " last_activity) VALUES(?1, ?2, ?3, ?4, ?5)"};
  // A plain INSERT: an entry written twice (a turn saved twice) is an error.
  Statement insert_history{db, "INSERT INTO history(agent, session_id, idx, role, name, content)"
                               " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"};
  Statement upsert_state{db, "INSERT INTO state(agent, session_id, key, value)"
                             " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(agent, session_id, key)"
                             " DO UPDATE SET value = excluded.value"};
  Statement delete_state{db, "DELETE FROM state WHERE agent = ?1 AND session_id = ?2"
                             " AND key = ?3"};
  Statement delete_session{db, "DELETE FROM sessions WHERE agent = ?1 AND session_id = ?2"};
  Statement delete_history{db, "DELETE FROM history WHERE agent = ?1 AND session_id = ?2"};
  Statement delete_states{db, "DELETE FROM state WHERE agent = ?1 AND session_id = ?2"};
  Statement delete_owner_of{db, "DELETE FROM owners WHERE agent = ?1 AND session_id = ?2"};
  Statement delete_requests{db, "DELETE FROM requests WHERE agent = ?1 AND session_id = ?2"};
  // A request id forgotten by the runtime (past its count or age) may come back with a new
  // turn: the newer one replaces it.
  Statement upsert_request{db, "INSERT OR REPLACE INTO requests(agent, session_id, request_id,"
                               " input_hash, turn, output, interrupted, at)"
                               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"};
  // A session keeps its last `requests_kept` request ids on disk (?3: the oldest turn kept).
  Statement prune_requests{db, "DELETE FROM requests WHERE agent = ?1 AND session_id = ?2"
                               " AND turn < ?3"};
  Statement select_requests{db, "SELECT request_id, input_hash, turn, output, interrupted, at"
                                " FROM requests WHERE agent = ?1 AND session_id = ?2"
                                " ORDER BY at, turn"};
  Statement insert_owner{db, "INSERT OR IGNORE INTO owners(agent, owner, session_id, created)"
                             " VALUES(?1, ?2, ?3, ?4)"};
  Statement select_owner{db, "SELECT session_id FROM owners WHERE agent = ?1 AND owner = ?2"};
  // Sessions past their lifetime, and owner mappings of sessions never stored. A mapping
  // with created = 0 was made by a version 1 process still running on a migrated file: its
  // age is unknown, so it is kept.
  Statement select_old{db, "SELECT agent, session_id FROM sessions"
                           " WHERE created < ?1 AND last_activity < ?2"
                           " UNION SELECT o.agent, o.session_id FROM owners o"
                           " WHERE o.created > 0 AND o.created < ?1 AND NOT EXISTS"
                           " (SELECT 1 FROM sessions s"
                           " WHERE s.agent = o.agent AND s.session_id = o.session_id)"};
};

/// Steps `s` to its end; an Error naming `what` if it fails.
Result<void> run(Connection& db, Use& s, const char* what) {
  if (int rc = s->step(); rc != SQLITE_DONE)
    return db.failure(rc, what);
  return {};
}

class SqliteStore final : public DurableStore {
public:
  explicit SqliteStore(const std::string& path)
    : db_(path), found_version_(open_schema(db_)), sql_(db_),
      writer_([this](std::deque<BatchWork>& batch) { write_batch(batch); }) {
    // nop
  }

  Result<std::optional<StoredSession>> load(const SessionKey& key) override {
    MutexLock guard{mu_};
    StoredSession session;
    session.key = key;
    {
      Use s{sql_.select_session};
      s->bind(1, key.agent).bind(2, key.session_id);
      int rc = s->step();
      if (rc == SQLITE_DONE)
        return std::optional<StoredSession>{};
      if (rc != SQLITE_ROW)
        return db_.failure(rc, "read the session");
      session.turns = static_cast<std::uint64_t>(s->integer(0));
      session.created = from_ms(s->integer(1));
      session.last_activity = from_ms(s->integer(2));
    }
    {
      Use h{sql_.select_history};
      h->bind(1, key.agent).bind(2, key.session_id);
      int rc;
      while ((rc = h->step()) == SQLITE_ROW)
        session.history.push_back(
          Message{static_cast<Role>(h->integer(0)), h->text(2), h->text(1)});
      if (rc != SQLITE_DONE)
        return db_.failure(rc, "read the history");
    }
    {
      Use st{sql_.select_state};
      st->bind(1, key.agent).bind(2, key.session_id);
      int rc;
      while ((rc = st->step()) == SQLITE_ROW)
        session.state.emplace(st->text(0), st->text(1));
      if (rc != SQLITE_DONE)
        return db_.failure(rc, "read the state");
    }
    {
      Use q{sql_.select_requests};
      q->bind(1, key.agent).bind(2, key.session_id);
      int rc;
      while ((rc = q->step()) == SQLITE_ROW)
        session.requests.push_back(StoredRequest{
          q->text(0), static_cast<std::uint64_t>(q->integer(1)),
          static_cast<std::uint64_t>(q->integer(2)), q->text(3), q->integer(4) != 0,
          from_ms(q->integer(5))});
      if (rc != SQLITE_DONE)
        return db_.failure(rc, "read the request ids");
    }
    return std::optional<StoredSession>{std::move(session)};
  }

  void commit(std::shared_ptr<const TurnRecord> record,
              std::function<void(Result<void>)> done) override {
    writer_.enqueue(BatchWork::turn(std::move(record), std::move(done)));
  }

  Result<void> erase(const SessionKey& key) override {
    return writer_.erase(key); // behind the session's queued turns
  }

  Result<OwnerSession> owner_session(std::string_view agent, std::string_view owner,
                                     const std::string& candidate) override {
    MutexLock guard{mu_};
    // The primary key (agent, owner) makes this atomic across processes: the first insert
    // wins, every other caller reads the winner.
    OwnerSession out;
    auto r = db_.transaction([&]() -> Result<void> {
      {
        Use s{sql_.insert_owner};
        s->bind(1, agent).bind(2, owner).bind(3, candidate);
        s->bind(4, to_ms(std::chrono::system_clock::now()));
        if (auto ok = run(db_, s, "record the owner's session"); !ok)
          return ok;
      }
      out.created = db_.changes() == 1;
      Use s{sql_.select_owner};
      s->bind(1, agent).bind(2, owner);
      if (int rc = s->step(); rc != SQLITE_ROW)
        return db_.failure(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "read the owner's session");
      out.session_id = s->text(0);
      return {};
    });
    if (!r)
      return r.error();
    return out;
  }

  Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point created_before,
                                          std::chrono::system_clock::time_point active_before)
    override {
    MutexLock guard{mu_};
    Use s{sql_.select_old};
    s->bind(1, to_ms(created_before)).bind(2, to_ms(active_before));
    std::vector<SessionKey> out;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW)
      out.push_back(SessionKey{s->text(0), s->text(1)});
    if (rc != SQLITE_DONE)
      return db_.failure(rc, "list old sessions");
    return out;
  }

private:
  Result<void> apply(const BatchWork& w) {
    return w.record ? apply_turn(*w.record) : erase_now(*w.erase);
  }

  /// Commits `batch` in one transaction, in queue order. If one item breaks a constraint (a
  /// turn written twice, or out of order), the items are committed one by one so only it
  /// fails; any other error (disk full, another process holding the lock past the busy
  /// timeout) fails the whole batch at once rather than retrying each under the lock.
  void write_batch(std::deque<BatchWork>& batch) {
    std::vector<Result<void>> results(batch.size());
    {
      MutexLock guard{mu_};
      auto all = db_.transaction([&]() -> Result<void> {
        for (auto& w : batch)
          if (auto r = apply(w); !r)
            return r;
        return {};
      });
      if (!all && batch.size() > 1 && is_constraint(all.error().code)) {
        for (std::size_t i = 0; i < batch.size(); ++i)
          results[i] = db_.transaction([&] { return apply(batch[i]); });
      } else {
        for (auto& r : results)
          r = all;
      }
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
      batch[i].done(std::move(results[i]));
  }

  /// Turns must follow each other: the session row moves from turn N to N+1 only, and a
  /// new row starts at turn 1 with an empty history. A turn whose predecessor is not stored
  /// (its session was erased meanwhile) is refused, never written as a torn session.
  Result<void> apply_turn(const TurnRecord& r) {
    {
      Use s{sql_.update_session};
      s->bind(1, r.key.agent).bind(2, r.key.session_id);
      s->bind(3, static_cast<std::int64_t>(r.turns)).bind(4, to_ms(r.last_activity));
      s->bind(5, static_cast<std::int64_t>(r.turns) - 1);
      if (auto ok = run(db_, s, "update the session"); !ok)
        return ok;
    }
    if (db_.changes() != 1) {
      if (r.turns != 1 || r.first_index != 0)
        return Error{error(SQLITE_CONSTRAINT),
                     "turn " + std::to_string(r.turns) + " of " + r.key.agent + "/"
                       + r.key.session_id + " does not follow a stored turn"};
      {
        // A new session: request ids left by an erase that did not know of them (a
        // version 2 process on this file) must not answer for it.
        Use q{sql_.delete_requests};
        q->bind(1, r.key.agent).bind(2, r.key.session_id);
        if (auto ok = run(db_, q, "clear old request ids"); !ok)
          return ok;
      }
      Use s{sql_.insert_session};
      s->bind(1, r.key.agent).bind(2, r.key.session_id);
      s->bind(3, static_cast<std::int64_t>(r.turns)).bind(4, to_ms(r.created));
      s->bind(5, to_ms(r.last_activity));
      if (auto ok = run(db_, s, "insert the session"); !ok)
        return ok;
    }
    if (r.history_before) // compacted: the stored history is replaced
      if (auto ok = rewrite_history(r); !ok)
        return ok;
    auto index = static_cast<std::int64_t>(r.first_index);
    for (auto& m : r.entries) {
      Use s{sql_.insert_history};
      s->bind(1, r.key.agent).bind(2, r.key.session_id).bind(3, index++);
      s->bind(4, static_cast<std::int64_t>(m.role)).bind(5, m.name).bind(6, m.content);
      if (auto ok = run(db_, s, "append to the history"); !ok)
        return ok;
    }
    for (auto& [k, v] : r.state_writes) {
      Use s{v ? sql_.upsert_state : sql_.delete_state};
      s->bind(1, r.key.agent).bind(2, r.key.session_id).bind(3, k);
      if (v)
        s->bind(4, *v);
      if (auto ok = run(db_, s, "write the state"); !ok)
        return ok;
    }
    if (r.request)
      return write_request(r);
    return {};
  }

  /// Replaces the session's stored history with the compacted one the turn follows.
  Result<void> rewrite_history(const TurnRecord& r) {
    {
      Use s{sql_.delete_history};
      s->bind(1, r.key.agent).bind(2, r.key.session_id);
      if (auto ok = run(db_, s, "compact the history"); !ok)
        return ok;
    }
    std::int64_t index = 0;
    for (auto& m : *r.history_before) {
      Use s{sql_.insert_history};
      s->bind(1, r.key.agent).bind(2, r.key.session_id).bind(3, index++);
      s->bind(4, static_cast<std::int64_t>(m.role)).bind(5, m.name).bind(6, m.content);
      if (auto ok = run(db_, s, "write the compacted history"); !ok)
        return ok;
    }
    return {};
  }

  /// Stores the turn's request id and forgets the session's oldest beyond requests_kept.
  Result<void> write_request(const TurnRecord& r) {
    auto& q = *r.request;
    {
      Use s{sql_.upsert_request};
      s->bind(1, r.key.agent).bind(2, r.key.session_id).bind(3, q.request_id);
      s->bind(4, static_cast<std::int64_t>(q.input_hash));
      s->bind(5, static_cast<std::int64_t>(q.turn)).bind(6, q.output);
      s->bind(7, static_cast<std::int64_t>(q.interrupted)).bind(8, to_ms(q.at));
      if (auto ok = run(db_, s, "store the request id"); !ok)
        return ok;
    }
    if (r.turns <= requests_kept)
      return {};
    Use s{sql_.prune_requests};
    s->bind(1, r.key.agent).bind(2, r.key.session_id);
    s->bind(3, static_cast<std::int64_t>(r.turns - requests_kept));
    return run(db_, s, "forget old request ids");
  }

  Result<void> erase_now(const SessionKey& key) {
    for (auto* st : {&sql_.delete_session, &sql_.delete_history, &sql_.delete_states,
                     &sql_.delete_owner_of, &sql_.delete_requests}) {
      Use s{*st};
      s->bind(1, key.agent).bind(2, key.session_id);
      if (auto ok = run(db_, s, "erase the session"); !ok)
        return ok;
    }
    return {};
  }

  /// Request ids kept on disk per session: the last 1,024 turns' (more than any runtime
  /// keeps in memory: RuntimeConfig::request_ids_kept, 64 by default).
  static constexpr std::uint64_t requests_kept = 1024;

  Mutex mu_; // serializes use of db_ and sql_ (lambdas run under it: no annotation)
  Connection db_;
  int found_version_; // the file's schema version when opened (0: new); before sql_
  Statements sql_;
  BatchWriter writer_; // last: its thread stops (writing what is queued) before the rest goes
};

} // namespace

std::shared_ptr<DurableStore> open_sqlite_store(const std::string& path) {
  return std::make_shared<SqliteStore>(path);
}

} // namespace agentrt
