// Durable sessions: both stores on their own, recovery after expiry and in a new Runtime,
// a store that fails, files that cannot be used, and real processes: one killed mid-work,
// two racing for the same owners.

#include "support/stores.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::commit_and_wait;
using agentrt_test::FaultyDurableStore;
using agentrt_test::run_with_time_limit;
namespace fs = std::filesystem;

namespace {

/// A fresh directory for one test's database files.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/agentrt-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const {
    return (path / name).string();
  }
};

RuntimeConfig config_with(std::shared_ptr<SessionStore> store) {
  RuntimeConfig c;
  c.worker_threads = 2;
  c.store = std::move(store);
  return c;
}

std::string counter(Turn& t) {
  auto n = std::stoi(t.state().get_or("n", "0")) + 1;
  t.state().set("n", std::to_string(n));
  return "n=" + std::to_string(n) + " history=" + std::to_string(t.history().size());
}

TurnRecord record(const std::string& sid, std::uint64_t turns, std::uint64_t first,
                  std::vector<Message> entries) {
  TurnRecord r;
  r.key = SessionKey{"a", sid};
  r.turns = turns;
  r.first_index = first;
  r.entries = std::move(entries);
  r.created = std::chrono::system_clock::now();
  r.last_activity = r.created;
  return r;
}

/// Runs store_child with `args`: its stdout lines and exit status. Asserts nothing (it
/// runs on helper threads; Catch2 assertions belong to the test's thread).
std::pair<std::vector<std::string>, int> run_child(const std::vector<std::string>& args) {
  std::string cmd = STORE_CHILD;
  for (auto& a : args)
    cmd += " '" + a + "'";
  std::vector<std::string> lines;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr)
    return {lines, -1};
  char buf[512];
  while (fgets(buf, sizeof buf, p)) {
    std::string l{buf};
    if (!l.empty() && l.back() == '\n')
      l.pop_back();
    lines.push_back(l);
  }
  return {lines, pclose(p)};
}

/// Runs `store_child DB mode` and SIGKILLs it once it printed `lines` lines: what it
/// printed, and its wait status. Asserts nothing (see run_child).
std::pair<std::vector<std::string>, int> run_child_until_killed(const std::string& db,
                                                                const char* mode,
                                                                std::size_t lines) {
  std::vector<std::string> out_lines;
  int out[2];
  if (pipe(out) != 0)
    return {out_lines, -1};
  pid_t pid = fork();
  if (pid < 0)
    return {out_lines, -1};
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a test that gave up
    dup2(out[1], 1);
    close(out[0]);
    execl(STORE_CHILD, STORE_CHILD, db.c_str(), mode, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string pending;
  char buf[4096];
  bool killed = false;
  for (;;) {
    auto n = read(out[0], buf, sizeof buf);
    if (n <= 0)
      break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      out_lines.push_back(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
    if (!killed && out_lines.size() >= lines) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {out_lines, status};
}

} // namespace

TEST_CASE("the memory store hands sessions over and back, and maps owners atomically", "[store]") {
  run_with_time_limit(60s, "the memory store hands sessions over and back, and maps owners atomically", [] {
    auto store = make_memory_store();
    StoredSession s{SessionKey{"a", "s1"}, {Message{Role::user, "hi", {}}}, {{"k", "v"}}, 1,
                    std::chrono::system_clock::now(), std::chrono::system_clock::now()};
    auto original = s;
    REQUIRE(store->put(s));
    auto out = store->load(SessionKey{"a", "s1"});
    REQUIRE(out);
    REQUIRE(*out);
    CHECK((*out)->history == original.history);
    CHECK((*out)->state == original.state);
    auto again = store->load(SessionKey{"a", "s1"});
    REQUIRE(again);
    CHECK_FALSE(*again); // handed back: the live session holds it now
    auto first = store->owner_session("a", "alice", "id-1");
    REQUIRE(first);
    CHECK((first->session_id == "id-1" && first->created));
    auto second = store->owner_session("a", "alice", "id-2");
    REQUIRE(second);
    CHECK((second->session_id == "id-1" && !second->created));
  });
}

TEST_CASE("the SQLite store commits turns, loads them back and refuses a turn committed twice",
          "[store][sqlite]") {
  run_with_time_limit(60s, "sqlite turns", [] {
    TempDir dir;
    auto store = open_sqlite_store(dir.file("s.db"));
    auto r1 = record("s1", 1, 0, {{Role::user, "hi", {}}, {Role::assistant, "hello", {}}});
    r1.state_writes = {{"name", std::string{"Ada"}}, {"tmp", std::string{"x"}}};
    REQUIRE(commit_and_wait(*store, r1));
    auto r2 = record("s1", 2, 2,
                     {{Role::user, "weather?", {}}, {Role::tool_call, "Rome", "weather"},
                      {Role::tool_result, "sunny", "weather"}, {Role::assistant, "Sunny.", {}}});
    r2.state_writes = {{"tmp", std::nullopt}};
    REQUIRE(commit_and_wait(*store, r2));
    auto twice = commit_and_wait(*store, r2); // the same entries again: an error, never a duplicate
    REQUIRE_FALSE(twice);
    CHECK(twice.error().code.category().name() == std::string{"sqlite"});
    auto out = store->load(SessionKey{"a", "s1"});
    REQUIRE(out);
    REQUIRE(*out);
    auto& loaded = **out;
    CHECK(loaded.turns == 2);
    REQUIRE(loaded.history.size() == 6);
    CHECK(loaded.history[3] == Message{Role::tool_call, "Rome", "weather"});
    CHECK(loaded.state == StateMap{{"name", "Ada"}});
    REQUIRE(store->erase(SessionKey{"a", "s1"}));
    auto gone = store->load(SessionKey{"a", "s1"});
    REQUIRE(gone);
    CHECK_FALSE(*gone);
  });
}

TEST_CASE("the SQLite store lists old inactive sessions only", "[store][sqlite]") {
  run_with_time_limit(60s, "the SQLite store lists old inactive sessions only", [] {
    TempDir dir;
    auto store = open_sqlite_store(dir.file("s.db"));
    auto now = std::chrono::system_clock::now();
    auto old = record("old", 1, 0, {{Role::user, "x", {}}});
    old.created = now - 10h;
    old.last_activity = now - 2h;
    auto busy = record("busy", 1, 0, {{Role::user, "x", {}}});
    busy.created = now - 10h; // old, but active a moment ago
    REQUIRE(commit_and_wait(*store, old));
    REQUIRE(commit_and_wait(*store, busy));
    REQUIRE(commit_and_wait(*store, record("new", 1, 0, {{Role::user, "x", {}}})));
    auto expired = store->expired(now - 8h, now - 15min);
    REQUIRE(expired);
    CHECK(*expired == std::vector<SessionKey>{{"a", "old"}});
  });
}

TEST_CASE("the SQLite store refuses a turn whose predecessor is not stored", "[store][sqlite]") {
  run_with_time_limit(60s, "the SQLite store refuses a turn whose predecessor is not stored", [] {
    TempDir dir;
    auto store = open_sqlite_store(dir.file("s.db"));
    // Turn 3 of a session the store does not have (erased meanwhile): never a torn session.
    auto torn = commit_and_wait(*store, record("s", 3, 4, {{Role::user, "x", {}}, {Role::assistant, "y", {}}}));
    REQUIRE_FALSE(torn);
    CHECK(torn.error().message == "turn 3 of a/s does not follow a stored turn");
    auto out = store->load(SessionKey{"a", "s"});
    REQUIRE(out);
    CHECK_FALSE(*out);
    REQUIRE(commit_and_wait(*store, record("s", 1, 0, {{Role::user, "x", {}}})));
    CHECK_FALSE(commit_and_wait(*store, record("s", 3, 1, {{Role::user, "z", {}}}))); // turn 2 is missing
  });
}

TEST_CASE("an erase runs after the turns queued before it", "[store][sqlite]") {
  run_with_time_limit(60s, "an erase runs after the turns queued before it", [] {
    TempDir dir;
    auto store = open_sqlite_store(dir.file("s.db"));
    std::atomic<int> saved{0};
    for (std::uint64_t t = 1; t <= 50; ++t) {
      auto r = std::make_shared<TurnRecord>(record("s", t, t - 1, {{Role::user, "x", {}}}));
      store->commit(r, [&](Result<void> ok) {
        if (ok)
          saved.fetch_add(1);
      });
    }
    REQUIRE(store->erase(SessionKey{"a", "s"}));
    CHECK(saved.load() == 50); // all written before the erase returned...
    auto out = store->load(SessionKey{"a", "s"});
    REQUIRE(out);
    CHECK_FALSE(*out); // ...and the erase came after them
  });
}

TEST_CASE("a database file that cannot be used is a clear error at start", "[store][sqlite]") {
  run_with_time_limit(60s, "a database file that cannot be used is a clear error at start", [] {
    TempDir dir;
    auto corrupt = dir.file("corrupt.db");
    std::ofstream{corrupt} << std::string(8192, 'x');
    CHECK_THROWS_WITH(open_sqlite_store(corrupt),
                      Catch::Contains("corrupt.db") && Catch::Contains("not a database"));
    CHECK_THROWS_WITH(open_sqlite_store(dir.file("missing/dir/s.db")),
                      Catch::Contains("cannot open session store")
                        && Catch::Contains("missing/dir/s.db"));
    CHECK_THROWS_WITH(open_sqlite_store(dir.path.string()), Catch::Contains("cannot"));
    // Through the Runtime: the constructor throws, nothing starts.
    RuntimeConfig cfg;
    cfg.store_path = corrupt;
    CHECK_THROWS_WITH(Runtime{cfg}, Catch::Contains("not a database"));
  });
}

TEST_CASE("a database with a newer schema is refused", "[store][sqlite]") {
  run_with_time_limit(60s, "a database with a newer schema is refused", [] {
    TempDir dir;
    auto path = dir.file("future.db");
    open_sqlite_store(path); // creates the current version
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE meta SET value = 7 WHERE key = 'schema_version'", nullptr,
                         nullptr, nullptr)
            == SQLITE_OK);
    sqlite3_close(db);
    CHECK_THROWS_WITH(open_sqlite_store(path),
                      Catch::Contains("schema version 7 is newer than this agentrt understands"));
  });
}

TEST_CASE("a version 1 database is migrated and keeps its sessions and owners",
          "[store][sqlite]") {
  run_with_time_limit(60s, "schema migration", [] {
    TempDir dir;
    auto path = dir.file("v1.db");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    // The schema as version 1 wrote it, with one session and one owner mapping.
    const char* v1 =
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
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
      " session_id TEXT NOT NULL, PRIMARY KEY(agent, owner)) WITHOUT ROWID;"
      "CREATE INDEX owners_session ON owners(agent, session_id);"
      "INSERT INTO meta(key, value) VALUES('schema_version', 1);"
      "INSERT INTO sessions VALUES('counter', 'u1', 1, 1000, 2000);"
      "INSERT INTO history VALUES('counter', 'u1', 0, 1, '', 'x');"
      "INSERT INTO history VALUES('counter', 'u1', 1, 2, '', 'n=1 history=0');"
      "INSERT INTO state VALUES('counter', 'u1', 'n', '1');"
      "INSERT INTO owners VALUES('counter', 'alice', 'u1');";
    REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    {
      RuntimeConfig cfg;
      cfg.store_path = path;
      Runtime rt{cfg};
      rt.register_handler("counter", counter);
      auto owned = rt.session_for("counter", "alice").value();
      CHECK(owned.session_id == "u1");
      CHECK_FALSE(owned.created);
      CHECK(rt.ask({.agent = "counter", .session_id = "u1", .input = "x"}).output
            == "n=2 history=2");
    }
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                               &st, nullptr)
            == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == 3);
    sqlite3_finalize(st);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT created FROM owners WHERE owner = 'alice'", -1, &st,
                               nullptr)
            == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int64(st, 0) > 1'700'000'000'000); // the upgrade's time, in ms
    sqlite3_finalize(st);
    sqlite3_close(db);
  });
}

TEST_CASE("an expired session continues with its context from SQLite", "[store][runtime]") {
  run_with_time_limit(30s, "recovery after expiry", [] {
    TempDir dir;
    auto cfg = config_with(open_sqlite_store(dir.file("s.db")));
    cfg.idle_timeout = 50ms;
    cfg.expiry_interval = 10ms;
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "u1", .input = "a"}).output == "n=1 history=0");
    CHECK(rt.ask({.agent = "counter", .session_id = "u1", .input = "b"}).output == "n=2 history=2");
    // The expiration is counted before the actor is gone: wait for both.
    for (auto st = rt.stats(); st.expirations == 0 || st.live_sessions != 0; st = rt.stats())
      std::this_thread::sleep_for(1ms);
    CHECK(rt.ask({.agent = "counter", .session_id = "u1", .input = "c"}).output == "n=3 history=4");
  });
}

TEST_CASE("a new Runtime on the same file continues every session", "[store][runtime]") {
  run_with_time_limit(30s, "recovery after restart", [] {
    TempDir dir;
    auto path = dir.file("s.db");
    std::string owner_id;
    {
      RuntimeConfig cfg;
      cfg.store_path = path;
      Runtime rt{cfg};
      rt.register_handler("counter", counter);
      for (int i = 0; i < 3; ++i)
        rt.ask({.agent = "counter", .session_id = "u1", .input = "x"});
      rt.ask({.agent = "counter", .session_id = "u2", .input = "x"});
      owner_id = rt.session_for("counter", "alice")->session_id;
    }
    RuntimeConfig cfg;
    cfg.store_path = path;
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "u1", .input = "x"}).output == "n=4 history=6");
    CHECK(rt.ask({.agent = "counter", .session_id = "u2", .input = "x"}).output == "n=2 history=2");
    CHECK(rt.session_for("counter", "alice")->session_id == owner_id);
    CHECK_FALSE(rt.session_for("counter", "alice")->created);
    // close erases it from the file too
    CHECK(rt.close({"counter", "u1"}).value());
    CHECK(rt.ask({.agent = "counter", .session_id = "u1", .input = "x"}).output == "n=1 history=0");
  });
}

TEST_CASE("a failed save fails the call with store_failed and changes nothing",
          "[store][runtime]") {
  run_with_time_limit(30s, "store failure", [] {
    TempDir dir;
    auto flaky = std::make_shared<FaultyDurableStore>(open_sqlite_store(dir.file("s.db")));
    Runtime rt{config_with(flaky)};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "u", .input = "a"}).ok());
    flaky->fail_commit = true;
    auto failed = rt.invoke({.agent = "counter", .session_id = "u", .input = "b"}).value();
    std::vector<EventKind> kinds;
    while (auto e = failed.next_event())
      kinds.push_back(e->kind);
    CHECK(kinds == std::vector<EventKind>{EventKind::started, EventKind::failed});
    CHECK(failed.reply().error == errc::store_failed);
    CHECK(failed.reply().message
          == "the session store could not save the turn: No space left on device");
    CHECK(rt.describe({"counter", "u"})->history_size == 2); // memory agrees with disk
    flaky->fail_commit = false;
    CHECK(rt.ask({.agent = "counter", .session_id = "u", .input = "c"}).output == "n=2 history=2");
    // A session whose context cannot be loaded refuses its first call, then recovers.
    flaky->fail_load = true;
    auto r = rt.ask({.agent = "counter", .session_id = "v", .input = "x"});
    CHECK(r.error == errc::store_failed);
    flaky->fail_load = false;
    CHECK(rt.ask({.agent = "counter", .session_id = "v", .input = "x"}).ok());
  });
}

TEST_CASE("a process killed mid-work loses no reply it gave and doubles none",
          "[store][crash]") {
  run_with_time_limit(90s, "crash recovery", [] {
    TempDir dir;
    auto path = dir.file("crash.db");
    // Read replies until 400 arrived, then kill the process in the middle of its work.
    auto [replies, status] = run_child_until_killed(path, "work", 400);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(replies.size() >= 400);
    // Every reply the process gave is in its session's history, exactly once.
    auto store = open_sqlite_store(path);
    std::map<std::string, std::multiset<std::string>> inputs;
    for (auto& line : replies) {
      std::istringstream ls{line};
      std::string ok, sid, input;
      ls >> ok >> sid >> input;
      REQUIRE(ok == "ok");
      if (!inputs.count(sid)) {
        auto loaded = store->load(SessionKey{"chat", sid});
        REQUIRE(loaded);
        auto& s = *loaded;
        REQUIRE(s);
        for (auto& m : s->history)
          if (m.role == Role::user)
            inputs[sid].insert(m.content);
        CHECK(s->state.at("n") == std::to_string(s->turns)); // state and history agree
        CHECK(s->history.size() == 2 * s->turns);
      }
      CHECK(inputs[sid].count(input) == 1);
    }
    std::printf("crash test: %zu replies before SIGKILL, all found once after restart\n",
                replies.size());
  });
}

TEST_CASE("two processes racing for the same owners get the same session ids",
          "[store][owners]") {
  run_with_time_limit(60s, "owners across processes", [] {
    TempDir dir;
    auto path = dir.file("owners.db");
    open_sqlite_store(path); // create the schema before the race
    std::pair<std::vector<std::string>, int> ra, rb;
    std::thread ta{[&] { ra = run_child({path, "owners", "50"}); }};
    std::thread tb{[&] { rb = run_child({path, "owners", "50"}); }};
    ta.join();
    tb.join();
    CHECK(ra.second == 0);
    CHECK(rb.second == 0);
    auto& a = ra.first;
    auto& b = rb.first;
    REQUIRE(a.size() == 50);
    CHECK(a == b);
    std::set<std::string> distinct(a.begin(), a.end());
    CHECK(distinct.size() == 50);
    CHECK(distinct.count("error") == 0);
  });
}

TEST_CASE("a host killed mid-work and restarted finds every committed request id and runs nothing again",
          "[store][crash][request_id]") {
  run_with_time_limit(90s, "request ids across a crash", [] {
    TempDir dir;
    auto path = dir.file("requests.db");
    auto [replies, status] = run_child_until_killed(path, "requests", 200);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(replies.size() >= 200);
    // The restarted host: the same agent, and a retry of every request it had answered.
    RuntimeConfig cfg;
    cfg.worker_threads = 2;
    cfg.store_path = path;
    Runtime rt{cfg};
    std::atomic<int> ran{0};
    rt.register_handler("chat", [&ran](Turn& t) {
      ran.fetch_add(1);
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      return "reply " + std::to_string(n);
    });
    std::map<std::string, std::uint64_t> turns_before;
    for (int i = 0; i < 40; ++i) {
      auto sid = "s" + std::to_string(i);
      if (auto h = rt.history({"chat", sid}, 0, 0))
        turns_before[sid] = h->turns;
    }
    int replayed = 0;
    for (auto& line : replies) {
      std::istringstream ls{line};
      std::string ok, sid, rid, input, word, n;
      ls >> ok >> sid >> rid >> input >> word >> n;
      REQUIRE(ok == "ok");
      auto r = rt.ask({.agent = "chat", .session_id = sid, .input = input, .request_id = rid});
      CHECK(r.ok());
      CHECK(r.replayed);
      CHECK(r.output == word + " " + n); // the committed turn's own output
      replayed += r.replayed;
    }
    CHECK(replayed == static_cast<int>(replies.size()));
    CHECK(ran.load() == 0); // nothing ran again
    for (auto& [sid, turns] : turns_before)
      CHECK(rt.history({"chat", sid}, 0, 0)->turns == turns);
    CHECK(rt.stats().calls_replayed == replies.size());
    std::printf("request id crash test: %zu committed requests retried after SIGKILL, none ran again\n",
                replies.size());
  });
}
