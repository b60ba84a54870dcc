// The SQLite session store: write-through and durable. One table per kind of data, typed
// columns (no hand-made string formats), WAL mode so readers never block the writer.
//
// Concurrency: one connection guarded by a mutex. Turns are saved by a writer thread that
// commits everything queued in one transaction (group commit), so concurrent sessions share
// the cost of a commit; each turn's caller hears back only after that commit. Other
// processes may use the same file (SQLite's locking, with a busy timeout).

#include <agentrt/errors.hpp>
#include <agentrt/session_store.hpp>

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace agentrt {

namespace {

/// The schema this code writes and understands. 2: owners.created (an unused owner mapping
/// expires with max_lifetime).
constexpr int schema_version = 2;

class SqliteCategory final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "sqlite";
  }
  std::string message(int rc) const override {
    return sqlite3_errstr(rc);
  }
};

const std::error_category& sqlite_category() {
  static const SqliteCategory category;
  return category;
}

std::error_code sqlite_error(int rc) {
  return {rc, sqlite_category()};
}

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)};
}

/// A prepared statement, reset after each use.
class Statement {
public:
  Statement(sqlite3* db, const char* sql) {
    if (int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
        rc != SQLITE_OK)
      throw std::runtime_error(std::string{"agentrt: cannot prepare statement: "}
                               + sqlite3_errmsg(db));
  }
  ~Statement() {
    sqlite3_finalize(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// The text must stay alive until the statement is reset (it is not copied).
  Statement& bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    return sqlite3_step(stmt_);
  }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string{p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))}
             : std::string{};
  }
  std::int64_t integer(int col) const {
    return sqlite3_column_int64(stmt_, col);
  }
  void reset() {
    sqlite3_reset(stmt_); // every use binds every parameter again
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// Resets a statement when leaving scope.
struct Use {
  explicit Use(Statement& s) : s(s) {
  }
  ~Use() {
    s.reset();
  }
  Statement& s;
};

class SqliteStore final : public SessionStore {
public:
  explicit SqliteStore(const std::string& path) : path_(path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw std::runtime_error("agentrt: cannot open session store '" + path + "': " + why);
    }
    try {
      sqlite3_busy_timeout(db_, 5000); // other processes sharing the file
      check(exec("PRAGMA journal_mode=WAL"), "enable WAL");
      // NORMAL in WAL mode: a commit survives a process crash (the data is in the OS);
      // only a power loss can take the last commits back.
      check(exec("PRAGMA synchronous=NORMAL"), "set synchronous");
      check(exec("PRAGMA cache_size=-32768"), "set the cache size"); // 32 MiB
      // Checkpoints run on the writer thread; fewer, larger ones keep commits short.
      check(exec("PRAGMA wal_autocheckpoint=8192"), "set the checkpoint interval");
      create_schema();
      prepare();
    } catch (...) {
      statements_clear();
      sqlite3_close(db_);
      throw;
    }
    writer_ = std::thread{[this] { write_loop(); }};
  }

  ~SqliteStore() override {
    {
      std::lock_guard guard{queue_mu_};
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join(); // writes what was queued first
    statements_clear();
    sqlite3_close(db_);
  }

  bool write_through() const noexcept override {
    return true;
  }

  std::error_code load(const SessionKey& key, std::optional<StoredSession>& out) override {
    std::lock_guard guard{mu_};
    Use s{*select_session_};
    s.s.bind(1, key.agent).bind(2, key.session_id);
    int rc = s.s.step();
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return sqlite_error(rc);
    StoredSession session;
    session.key = key;
    session.turns = static_cast<std::uint64_t>(s.s.integer(0));
    session.created = from_ms(s.s.integer(1));
    session.last_activity = from_ms(s.s.integer(2));
    {
      Use h{*select_history_};
      h.s.bind(1, key.agent).bind(2, key.session_id);
      while ((rc = h.s.step()) == SQLITE_ROW)
        session.history.push_back(
          Message{static_cast<Role>(h.s.integer(0)), h.s.text(2), h.s.text(1)});
      if (rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    {
      Use st{*select_state_};
      st.s.bind(1, key.agent).bind(2, key.session_id);
      while ((rc = st.s.step()) == SQLITE_ROW)
        session.state.emplace(st.s.text(0), st.s.text(1));
      if (rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    out = std::move(session);
    return {};
  }

  std::error_code save(const TurnRecord& record) override {
    std::promise<std::error_code> result;
    auto outcome = result.get_future();
    // Not owned: this frame outlives the write, since it waits for it.
    std::shared_ptr<const TurnRecord> borrowed{&record, [](const TurnRecord*) {}};
    save_async(std::move(borrowed), [&result](std::error_code ec) { result.set_value(ec); });
    return outcome.get();
  }

  void save_async(std::shared_ptr<const TurnRecord> record,
                  std::function<void(std::error_code)> done) override {
    enqueue(Pending{std::move(record), std::nullopt, std::move(done)});
  }

  std::error_code put(StoredSession& session) override {
    std::lock_guard guard{mu_};
    return transaction([&]() -> std::error_code {
      if (auto ec = erase_data_locked(session.key))
        return ec;
      TurnRecord r;
      r.key = session.key;
      r.turns = session.turns;
      r.first_index = 0;
      r.entries = session.history;
      for (auto& [k, v] : session.state)
        r.state_writes.emplace_back(k, v);
      r.created = session.created;
      r.last_activity = session.last_activity;
      return apply_locked(r, true);
    });
  }

  std::error_code erase(const SessionKey& key) override {
    // Through the writer's queue: it runs after every turn of this session queued before it,
    // so a closed session's last turn cannot land after its erase.
    std::promise<std::error_code> result;
    auto outcome = result.get_future();
    enqueue(Pending{nullptr, key, [&result](std::error_code ec) { result.set_value(ec); }});
    return outcome.get();
  }

  std::error_code owner_session(std::string_view agent, std::string_view owner,
                                const std::string& candidate, std::string& out,
                                bool& created) override {
    std::lock_guard guard{mu_};
    // The primary key (agent, owner) makes this atomic across processes: the first insert
    // wins, every other caller reads the winner.
    return transaction([&]() -> std::error_code {
      {
        Use s{*insert_owner_};
        s.s.bind(1, agent).bind(2, owner).bind(3, candidate);
        s.s.bind(4, to_ms(std::chrono::system_clock::now()));
        if (int rc = s.s.step(); rc != SQLITE_DONE)
          return sqlite_error(rc);
      }
      created = sqlite3_changes(db_) == 1;
      Use s{*select_owner_};
      s.s.bind(1, agent).bind(2, owner);
      if (int rc = s.s.step(); rc != SQLITE_ROW)
        return sqlite_error(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
      out = s.s.text(0);
      return {};
    });
  }

  std::error_code list_by_owner(std::string_view owner, std::vector<SessionKey>& out) override {
    std::lock_guard guard{mu_};
    Use s{*select_by_owner_};
    s.s.bind(1, owner);
    int rc;
    while ((rc = s.s.step()) == SQLITE_ROW)
      out.push_back(SessionKey{s.s.text(0), s.s.text(1)});
    return rc == SQLITE_DONE ? std::error_code{} : sqlite_error(rc);
  }

  std::error_code expired(std::chrono::system_clock::time_point created_before,
                          std::chrono::system_clock::time_point active_before,
                          std::vector<SessionKey>& out) override {
    std::lock_guard guard{mu_};
    Use s{*select_old_};
    s.s.bind(1, to_ms(created_before)).bind(2, to_ms(active_before));
    int rc;
    while ((rc = s.s.step()) == SQLITE_ROW)
      out.push_back(SessionKey{s.s.text(0), s.s.text(1)});
    return rc == SQLITE_DONE ? std::error_code{} : sqlite_error(rc);
  }

private:
  /// A turn to save, or (when `record` is null) a session to erase.
  struct Pending {
    std::shared_ptr<const TurnRecord> record;
    std::optional<SessionKey> erase;
    std::function<void(std::error_code)> done;
  };

  void enqueue(Pending p) {
    {
      std::lock_guard guard{queue_mu_};
      queue_.push_back(std::move(p));
    }
    queue_cv_.notify_one();
  }

  std::error_code apply(const Pending& p) {
    return p.record ? apply_locked(*p.record, false) : erase_locked(*p.erase);
  }

  static bool is_constraint(const std::error_code& ec) {
    return &ec.category() == &sqlite_category() && (ec.value() & 0xff) == SQLITE_CONSTRAINT;
  }

  void write_loop() {
    std::unique_lock lock{queue_mu_};
    for (;;) {
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping, and everything queued was written
      std::deque<Pending> batch;
      batch.swap(queue_);
      lock.unlock();
      auto results = write_batch(batch);
      for (std::size_t i = 0; i < batch.size(); ++i)
        batch[i].done(results[i]);
      batch.clear();
      lock.lock();
    }
  }

  /// Commits `batch` in one transaction, in queue order. If one entry breaks a constraint
  /// (a turn written twice, or out of order), the entries are committed one by one so only
  /// it fails; any other error (disk full, another process holding the lock past the busy
  /// timeout) fails the whole batch at once rather than retrying each under the lock.
  std::vector<std::error_code> write_batch(const std::deque<Pending>& batch) {
    std::lock_guard guard{mu_};
    std::vector<std::error_code> results(batch.size());
    auto ec = transaction([&]() -> std::error_code {
      for (auto& p : batch)
        if (auto e = apply(p))
          return e;
      return {};
    });
    if (!ec || batch.size() == 1 || !is_constraint(ec)) {
      for (auto& r : results)
        r = ec;
      return results;
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
      results[i] = transaction([&] { return apply(batch[i]); });
    return results;
  }

  /// Runs `body` in a write transaction: committed if it succeeds, rolled back otherwise.
  template <class F>
  std::error_code transaction(F&& body) {
    if (int rc = exec("BEGIN IMMEDIATE"); rc != SQLITE_OK)
      return sqlite_error(rc);
    auto ec = body();
    if (!ec) {
      if (int rc = exec("COMMIT"); rc != SQLITE_OK)
        ec = sqlite_error(rc);
      else
        return {};
    }
    exec("ROLLBACK");
    return ec;
  }

  /// Writes a turn (or, `whole`, a whole session after erase_data_locked).
  std::error_code apply_locked(const TurnRecord& r, bool whole) {
    // Turns must follow each other: the session row moves from turn N to N+1 only, and a
    // new row starts at turn 1 with an empty history. A turn whose predecessor is not
    // stored (its session was erased meanwhile) is refused, never written as a torn session.
    {
      Use s{*update_session_};
      s.s.bind(1, r.key.agent).bind(2, r.key.session_id);
      s.s.bind(3, static_cast<std::int64_t>(r.turns)).bind(4, to_ms(r.last_activity));
      s.s.bind(5, static_cast<std::int64_t>(r.turns) - 1);
      if (int rc = s.s.step(); rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    if (sqlite3_changes(db_) != 1) {
      if (!whole && (r.turns != 1 || r.first_index != 0))
        return sqlite_error(SQLITE_CONSTRAINT);
      Use s{*insert_session_};
      s.s.bind(1, r.key.agent).bind(2, r.key.session_id);
      s.s.bind(3, static_cast<std::int64_t>(r.turns)).bind(4, to_ms(r.created));
      s.s.bind(5, to_ms(r.last_activity));
      if (int rc = s.s.step(); rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    auto index = static_cast<std::int64_t>(r.first_index);
    for (auto& m : r.entries) {
      // A plain INSERT: an entry written twice (a turn saved twice) is an error, not a
      // silent duplicate.
      Use s{*insert_history_};
      s.s.bind(1, r.key.agent).bind(2, r.key.session_id).bind(3, index++);
      s.s.bind(4, static_cast<std::int64_t>(m.role)).bind(5, m.name).bind(6, m.content);
      if (int rc = s.s.step(); rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    for (auto& [k, v] : r.state_writes) {
      Use s{v ? *upsert_state_ : *delete_state_};
      s.s.bind(1, r.key.agent).bind(2, r.key.session_id).bind(3, k);
      if (v)
        s.s.bind(4, *v);
      if (int rc = s.s.step(); rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    return {};
  }

  /// Removes the session's data, keeping its owner mapping.
  std::error_code erase_data_locked(const SessionKey& key) {
    for (auto* st : {delete_session_.get(), delete_history_.get(), delete_states_.get()}) {
      Use s{*st};
      s.s.bind(1, key.agent).bind(2, key.session_id);
      if (int rc = s.s.step(); rc != SQLITE_DONE)
        return sqlite_error(rc);
    }
    return {};
  }

  std::error_code erase_locked(const SessionKey& key) {
    if (auto ec = erase_data_locked(key))
      return ec;
    Use s{*delete_owner_of_};
    s.s.bind(1, key.agent).bind(2, key.session_id);
    if (int rc = s.s.step(); rc != SQLITE_DONE)
      return sqlite_error(rc);
    return {};
  }

  int exec(const char* sql) {
    return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  }

  void check(int rc, const char* what) {
    if (rc != SQLITE_OK)
      throw std::runtime_error("agentrt: session store '" + path_ + "': cannot " + what + ": "
                               + sqlite3_errmsg(db_));
  }

  void create_schema() {
    // Reading the schema is the first access: a file that is not a database fails here.
    check(exec("BEGIN IMMEDIATE"), "open the database (is it a SQLite file, and writable?)");
    auto fail = [&](const std::string& why) {
      exec("ROLLBACK");
      throw std::runtime_error("agentrt: session store '" + path_ + "': " + why);
    };
    if (exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        != SQLITE_OK)
      fail(std::string{"cannot create the schema: "} + sqlite3_errmsg(db_));
    int version = 0;
    {
      Statement s{db_, "SELECT value FROM meta WHERE key = 'schema_version'"};
      if (s.step() == SQLITE_ROW)
        version = static_cast<int>(s.integer(0));
    }
    if (version > schema_version)
      fail("its schema version " + std::to_string(version)
           + " is newer than this agentrt understands (" + std::to_string(schema_version)
           + "); use a newer agentrt or another file");
    if (version == 1) {
      // Mappings made before the upgrade get a whole lifetime from now.
      auto now = std::to_string(to_ms(std::chrono::system_clock::now()));
      auto migrate = "ALTER TABLE owners ADD COLUMN created INTEGER NOT NULL DEFAULT 0;"
                     "UPDATE owners SET created = " + now + ";"
                     "CREATE INDEX owners_created ON owners(created);"
                     "UPDATE meta SET value = 2 WHERE key = 'schema_version';";
      if (exec(migrate.c_str()) != SQLITE_OK)
        fail(std::string{"cannot migrate the schema from version 1: "} + sqlite3_errmsg(db_));
    }
    if (version == 0) {
      const char* ddl =
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
      if (exec(ddl) != SQLITE_OK)
        fail(std::string{"cannot create the schema: "} + sqlite3_errmsg(db_));
    }
    if (exec("COMMIT") != SQLITE_OK)
      fail(std::string{"cannot write: "} + sqlite3_errmsg(db_));
  }

  void prepare() {
    auto make = [&](const char* sql) { return std::make_unique<Statement>(db_, sql); };
    select_session_ = make("SELECT turns, created, last_activity FROM sessions"
                           " WHERE agent = ?1 AND session_id = ?2");
    select_history_ = make("SELECT role, name, content FROM history"
                           " WHERE agent = ?1 AND session_id = ?2 ORDER BY idx");
    select_state_ = make("SELECT key, value FROM state WHERE agent = ?1 AND session_id = ?2");
    update_session_ = make("UPDATE sessions SET turns = ?3, last_activity = ?4"
                           " WHERE agent = ?1 AND session_id = ?2 AND turns = ?5");
    insert_session_ = make("INSERT INTO sessions(agent, session_id, turns, created, last_activity)"
                           " VALUES(?1, ?2, ?3, ?4, ?5)");
    insert_history_ = make("INSERT INTO history(agent, session_id, idx, role, name, content)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    upsert_state_ = make("INSERT INTO state(agent, session_id, key, value) VALUES(?1, ?2, ?3, ?4)"
                         " ON CONFLICT(agent, session_id, key) DO UPDATE SET value = excluded.value");
    delete_state_ = make("DELETE FROM state WHERE agent = ?1 AND session_id = ?2 AND key = ?3");
    delete_session_ = make("DELETE FROM sessions WHERE agent = ?1 AND session_id = ?2");
    delete_history_ = make("DELETE FROM history WHERE agent = ?1 AND session_id = ?2");
    delete_states_ = make("DELETE FROM state WHERE agent = ?1 AND session_id = ?2");
    delete_owner_of_ = make("DELETE FROM owners WHERE agent = ?1 AND session_id = ?2");
    insert_owner_ = make("INSERT OR IGNORE INTO owners(agent, owner, session_id, created)"
                         " VALUES(?1, ?2, ?3, ?4)");
    select_owner_ = make("SELECT session_id FROM owners WHERE agent = ?1 AND owner = ?2");
    select_by_owner_ = make("SELECT agent, session_id FROM owners WHERE owner = ?1 ORDER BY agent");
    // Sessions past their lifetime, and owner mappings of sessions never stored.
    select_old_ = make("SELECT agent, session_id FROM sessions"
                       " WHERE created < ?1 AND last_activity < ?2"
                       " UNION SELECT o.agent, o.session_id FROM owners o WHERE o.created < ?1"
                       " AND NOT EXISTS (SELECT 1 FROM sessions s"
                       " WHERE s.agent = o.agent AND s.session_id = o.session_id)");
  }

  void statements_clear() {
    for (auto* p : {&select_session_, &select_history_, &select_state_, &update_session_, &insert_session_,
                    &insert_history_, &upsert_state_, &delete_state_, &delete_session_,
                    &delete_history_, &delete_states_, &delete_owner_of_, &insert_owner_,
                    &select_owner_, &select_by_owner_, &select_old_})
      p->reset();
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mu_; // guards db_ and the statements
  std::unique_ptr<Statement> select_session_, select_history_, select_state_, update_session_,
    insert_session_,
    insert_history_, upsert_state_, delete_state_, delete_session_, delete_history_,
    delete_states_, delete_owner_of_, insert_owner_, select_owner_, select_by_owner_,
    select_old_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_; // guarded by queue_mu_
  bool stopping_ = false;     // guarded by queue_mu_
  std::thread writer_;
};

} // namespace

std::shared_ptr<SessionStore> open_sqlite_store(const std::string& path) {
  return std::make_shared<SqliteStore>(path);
}

} // namespace agentrt
