// The PostgreSQL store against a real server: a session's round trip, reads that do not
// claim, two nodes sharing one database (a live lease refused, a release, a takeover that
// fences the old node's commit, renewals and their end), two turns of one session in one
// batch, owners across nodes, erase, and a server that is unreachable or stops and comes
// back. Rows are checked by SQL through a connection of the test's own.
//
// The server: env AGENTRT_TEST_POSTGRES (a conninfo), or the cluster the ctest fixture
// started (tests/stores/pg_fixture.sh); with neither, the program exits 77 (skipped).

#define CATCH_CONFIG_RUNNER
#include "support/stores.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::commit_and_wait;
using agentrt_test::run_with_time_limit;

namespace {

std::string server_conninfo; // set by main

/// A name no other test case (or run) uses: each case works on its own agents.
std::string unique(const std::string& name) {
  static std::atomic<int> n{0};
  return name + "-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

PostgresOptions options(const std::string& node, std::chrono::milliseconds lease = 10s,
                        std::string conninfo = server_conninfo) {
  PostgresOptions o;
  o.conninfo = std::move(conninfo);
  o.node = node;
  o.address = "http://" + node + ":8080";
  o.lease = lease;
  o.connect_timeout = 2s;
  return o;
}

/// The test's own connection, to check rows by SQL.
class Sql {
public:
  explicit Sql(const std::string& conninfo = server_conninfo)
    : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK)
      throw std::runtime_error(std::string{"test connection: "} + PQerrorMessage(conn_));
  }
  ~Sql() {
    PQfinish(conn_);
  }
  /// The rows of `sql` ($1, $2: the params), each column as text ("" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql,
                                             std::vector<std::string> params = {}) {
    std::vector<const char*> p;
    for (auto& s : params)
      p.push_back(s.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(p.size()), nullptr,
                               p.data(), nullptr, nullptr, 0);
    auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string why = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("test query failed: " + why);
    }
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < PQntuples(r); ++i) {
      out.emplace_back();
      for (int j = 0; j < PQnfields(r); ++j)
        out.back().push_back(PQgetvalue(r, i, j));
    }
    PQclear(r);
    return out;
  }
  /// The one value of `sql`.
  std::string value(const std::string& sql, std::vector<std::string> params = {}) {
    auto r = rows(sql, std::move(params));
    return r.empty() ? std::string{"<no row>"} : r.at(0).at(0);
  }
  /// The session's epoch as a number (epochs come from one sequence: only their order
  /// matters, never their value).
  long long epoch_of(const SessionKey& k) {
    return std::stoll(epoch(k));
  }
  std::string epoch(const SessionKey& k) {
    return value("SELECT epoch FROM agentrt_sessions WHERE agent = $1 AND session_id = $2",
                 {k.agent, k.session_id});
  }

private:
  PGconn* conn_;
};

TurnRecord turn(const SessionKey& key, std::uint64_t n, std::vector<Message> entries) {
  TurnRecord r;
  r.key = key;
  r.turns = n;
  r.first_index = (n - 1) * 2;
  r.entries = std::move(entries);
  r.created = std::chrono::system_clock::time_point{std::chrono::milliseconds(1'700'000'000'000)};
  r.last_activity = r.created + std::chrono::milliseconds(n);
  return r;
}

TurnRecord simple_turn(const SessionKey& key, std::uint64_t n) {
  return turn(key, n, {Message{Role::user, "q" + std::to_string(n), ""},
                       Message{Role::assistant, "a" + std::to_string(n), ""}});
}

/// Polls `ready` until it holds, up to `limit`; whether it did.
template <class F>
bool eventually(F ready, std::chrono::milliseconds limit = 5s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

} // namespace

TEST_CASE("a session round-trips through commit and load", "[postgres]") {
  run_with_time_limit(20s, "round trip", [] {
    auto store = open_postgres_store(options("n1"));
    SessionKey key{unique("roundtrip"), "s1"};
    auto first = store->load(key);
    REQUIRE(first);
    REQUIRE_FALSE(first->has_value()); // claimed, nothing committed yet
    auto e1 = Sql{}.epoch_of(key);
    auto t1 = turn(key, 1, {Message{Role::user, "hi", ""}, Message{Role::assistant, "hello", ""}});
    t1.state_writes = {{"a", "1"}, {"b", "2"}};
    t1.request = StoredRequest{"r1", 0xFFFF'FFFF'FFFF'FFF0ull, 1, "hello", false, t1.last_activity};
    REQUIRE(commit_and_wait(*store, t1));
    // Text that needs escaping in an array literal, and more than ASCII.
    std::string odd = "say \"hi\" \\ {x,y} NULL 'q' \xc3\xa9";
    auto t2 =
      turn(key, 2, {Message{Role::user, odd, ""}, Message{Role::tool_call, "{}", "t\"ool"}});
    t2.state_writes = {{"a", "3"}, {"b", std::nullopt}};
    REQUIRE(commit_and_wait(*store, t2));

    auto again = store->load(key); // the same node claims again: the next epoch
    REQUIRE(again);
    REQUIRE(again->has_value());
    auto& s = **again;
    CHECK(s.turns == 2);
    CHECK(s.created == t1.created);
    CHECK(s.last_activity == t2.last_activity);
    REQUIRE(s.history.size() == 4);
    CHECK(s.history[0] == t1.entries[0]);
    CHECK(s.history[1] == t1.entries[1]);
    CHECK(s.history[2] == t2.entries[0]);
    CHECK(s.history[3] == t2.entries[1]);
    CHECK(s.state == StateMap{{"a", "3"}});
    REQUIRE(s.requests.size() == 1);
    CHECK(s.requests[0].request_id == "r1");
    CHECK(s.requests[0].input_hash == 0xFFFF'FFFF'FFFF'FFF0ull);
    CHECK(s.requests[0].turn == 1);
    CHECK(s.requests[0].output == "hello");
    CHECK_FALSE(s.requests[0].interrupted);
    CHECK(s.requests[0].at == t1.last_activity);

    Sql sql;
    CHECK(sql.epoch_of(key) > e1);
    auto audit = sql.rows("SELECT turn, epoch, node, coalesce(request_id, '-') FROM agentrt_turns"
                          " WHERE agent = $1 ORDER BY turn",
                          {key.agent});
    auto e = std::to_string(e1);
    CHECK(audit == std::vector<std::vector<std::string>>{{"1", e, "n1", "r1"},
                                                         {"2", e, "n1", "-"}});
  });
}

TEST_CASE("a request id is stored with its turn and loaded back", "[postgres]") {
  run_with_time_limit(20s, "request id", [] {
    auto store = open_postgres_store(options("n1"));
    SessionKey key{unique("request"), "s1"};
    REQUIRE(store->load(key));
    auto t = simple_turn(key, 1);
    t.request = StoredRequest{"req-42", ~0ull, 1, "partial", true, t.last_activity};
    REQUIRE(commit_and_wait(*store, t));
    auto s = store->read(key);
    REQUIRE(s);
    REQUIRE(s->has_value());
    REQUIRE((*s)->requests.size() == 1);
    auto& q = (*s)->requests[0];
    CHECK(q.request_id == "req-42");
    CHECK(q.input_hash == ~0ull);
    CHECK(q.turn == 1);
    CHECK(q.output == "partial");
    CHECK(q.interrupted);
  });
}

TEST_CASE("read does not claim the session", "[postgres]") {
  run_with_time_limit(20s, "read", [] {
    auto n1 = open_postgres_store(options("n1"));
    auto n2 = open_postgres_store(options("n2"));
    SessionKey key{unique("read"), "s1"};
    REQUIRE(n1->load(key));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
    Sql sql;
    auto e1 = sql.epoch_of(key);
    auto s = n2->read(key); // another node, while n1 holds the lease
    REQUIRE(s);
    REQUIRE(s->has_value());
    CHECK((*s)->turns == 1);
    CHECK((*s)->history.size() == 2);
    CHECK(sql.epoch_of(key) == e1);
    CHECK_FALSE(n2->holds(key));
    CHECK(n1->holds(key));
    auto none = n2->read(SessionKey{key.agent, "never"});
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
  });
}

TEST_CASE("a second node is refused a live lease and claims it after release", "[postgres]") {
  run_with_time_limit(20s, "elsewhere", [] {
    auto n1 = open_postgres_store(options("n1"));
    auto n2 = open_postgres_store(options("n2"));
    SessionKey key{unique("elsewhere"), "s1"};
    REQUIRE(n1->load(key));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
    auto e1 = Sql{}.epoch_of(key);
    auto refused = n2->load(key);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == make_error_code(errc::session_elsewhere));
    CHECK(elsewhere_address(refused.error().message) == "http://n1:8080");
    CHECK_FALSE(n2->holds(key));

    n1->release(key);
    CHECK_FALSE(n1->holds(key));
    // The release reaches the database through n1's writer: wait for it.
    Result<std::optional<StoredSession>> claimed = Error{};
    REQUIRE(eventually([&] {
      claimed = n2->load(key);
      return claimed || claimed.error().code != make_error_code(errc::session_elsewhere);
    }));
    REQUIRE(claimed);
    REQUIRE(claimed->has_value());
    CHECK((*claimed)->turns == 1);
    CHECK(n2->holds(key));
    Sql sql;
    CHECK(sql.epoch_of(key) > e1);
    CHECK(sql.value("SELECT node FROM agentrt_sessions WHERE agent = $1", {key.agent}) == "n2");
  });
}

TEST_CASE("a node whose lease was taken over cannot commit", "[postgres]") {
  run_with_time_limit(20s, "fenced", [] {
    auto n1 = open_postgres_store(options("n1"));
    auto n2 = open_postgres_store(options("n2"));
    SessionKey key{unique("fenced"), "s1"};
    REQUIRE(n1->load(key));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
    // n1 is paused past its lease (as the database sees it): n2 takes the session over.
    Sql sql;
    auto e1 = sql.epoch_of(key);
    sql.rows("UPDATE agentrt_sessions SET lease_until = now() - interval '1 second'"
             " WHERE agent = $1",
             {key.agent});
    auto taken = n2->load(key);
    REQUIRE(taken);
    REQUIRE(taken->has_value());
    auto e2 = sql.epoch_of(key);
    CHECK(e2 > e1);

    auto t2 = simple_turn(key, 2);
    t2.state_writes = {{"x", "stale"}};
    t2.request = StoredRequest{"stale", 1, 2, "a2", false, t2.last_activity};
    auto stale = commit_and_wait(*n1, t2);
    REQUIRE_FALSE(stale);
    CHECK(stale.error().code == make_error_code(errc::lease_lost));
    CHECK(stale.error().message.find("turn 2 not committed") != std::string::npos);
    CHECK_FALSE(n1->holds(key));
    std::vector<std::string> k{key.agent};
    CHECK(sql.value("SELECT turns FROM agentrt_sessions WHERE agent = $1", k) == "1");
    CHECK(sql.value("SELECT count(*) FROM agentrt_history WHERE agent = $1", k) == "2");
    CHECK(sql.value("SELECT count(*) FROM agentrt_state WHERE agent = $1", k) == "0");
    CHECK(sql.value("SELECT count(*) FROM agentrt_requests WHERE agent = $1", k) == "0");
    CHECK(sql.value("SELECT count(*) FROM agentrt_turns WHERE agent = $1", k) == "1");

    REQUIRE(commit_and_wait(*n2, simple_turn(key, 2)));
    auto audit = sql.rows("SELECT turn, epoch, node FROM agentrt_turns WHERE agent = $1"
                          " ORDER BY turn", k);
    CHECK(audit == std::vector<std::vector<std::string>>{{"1", std::to_string(e1), "n1"},
                                                         {"2", std::to_string(e2), "n2"}});
  });
}

TEST_CASE("a stale node cannot commit into a session erased and started again", "[postgres]") {
  run_with_time_limit(20s, "erased and again", [] {
    auto n1 = open_postgres_store(options("n1"));
    auto n2 = open_postgres_store(options("n2"));
    SessionKey key{unique("again"), "s1"};
    REQUIRE(n1->load(key));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 2)));
    // n1 freezes past its lease; n2 takes the session, closes it, and a new conversation
    // under the same id reaches turn 2 on n2.
    Sql sql;
    std::vector<std::string> k{key.agent};
    sql.rows("UPDATE agentrt_sessions SET lease_until = now() - interval '1 second'"
             " WHERE agent = $1", k);
    REQUIRE(n2->load(key));
    REQUIRE(n2->erase(key));
    REQUIRE(n2->load(key));
    REQUIRE(commit_and_wait(*n2, simple_turn(key, 1)));
    REQUIRE(commit_and_wait(*n2, simple_turn(key, 2)));
    // n1 wakes with its turn 3: it follows turn 2 of the new conversation, under an epoch
    // that no claim of it ever had.
    auto stale = commit_and_wait(*n1, simple_turn(key, 3));
    REQUIRE_FALSE(stale);
    CHECK(stale.error().code == make_error_code(errc::lease_lost));
    CHECK(sql.value("SELECT turns FROM agentrt_sessions WHERE agent = $1", k) == "2");
    CHECK(sql.value("SELECT node FROM agentrt_sessions WHERE agent = $1", k) == "n2");
    REQUIRE(commit_and_wait(*n2, simple_turn(key, 3)));
    CHECK(sql.value("SELECT count(DISTINCT node) FROM agentrt_turns WHERE agent = $1", k) == "1");
  });
}

TEST_CASE("an erase is refused while another node holds the lease", "[postgres]") {
  run_with_time_limit(20s, "erase elsewhere", [] {
    auto n1 = open_postgres_store(options("n1"));
    auto n2 = open_postgres_store(options("n2"));
    SessionKey key{unique("erase-held"), "s1"};
    REQUIRE(n1->load(key));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
    auto refused = n2->erase(key);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == make_error_code(errc::session_elsewhere));
    CHECK(elsewhere_address(refused.error().message) == "http://n1:8080");
    CHECK(Sql{}.value("SELECT turns FROM agentrt_sessions WHERE agent = $1", {key.agent}) == "1");
    CHECK(n1->holds(key));
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 2)));
    REQUIRE(n1->erase(key)); // the holder may
    CHECK(Sql{}.value("SELECT count(*) FROM agentrt_sessions WHERE agent = $1", {key.agent}) == "0");
  });
}

TEST_CASE("a node asked for a session it holds lets the lease lapse, and its turn in flight "
          "still commits",
          "[postgres]") {
  run_with_time_limit(20s, "wanted", [] {
    auto n1 = open_postgres_store(options("n1", 600ms));
    auto n2 = open_postgres_store(options("n2", 600ms));
    SessionKey key{unique("wanted"), "s1"};
    REQUIRE(n1->load(key));
    auto refused = n2->load(key); // the proxy now sends the session's calls to n2
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == make_error_code(errc::session_elsewhere));
    // n1's renewals stop: its local lease lapses within the lease time.
    REQUIRE(eventually([&] { return !n1->holds(key); }, 3s));
    // A turn n1 was still running commits: the epoch is n1's until n2 claims.
    REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
    Result<std::optional<StoredSession>> claimed = Error{};
    REQUIRE(eventually([&] { return bool(claimed = n2->load(key)); }, 3s));
    REQUIRE(claimed->has_value());
    CHECK((*claimed)->turns == 1);
    auto late = commit_and_wait(*n1, simple_turn(key, 2));
    REQUIRE_FALSE(late);
    CHECK(late.error().code == make_error_code(errc::lease_lost));
  });
}

TEST_CASE("renewals keep a lease past its time", "[postgres]") {
  run_with_time_limit(20s, "renew", [] {
    auto store = open_postgres_store(options("n1", 300ms));
    SessionKey key{unique("renew"), "s1"};
    REQUIRE(store->load(key));
    auto e1 = Sql{}.epoch_of(key);
    auto until = std::chrono::steady_clock::now() + 600ms;
    int samples = 0;
    while (std::chrono::steady_clock::now() < until) {
      REQUIRE(store->holds(key));
      ++samples;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(samples > 10);
    Sql sql;
    CHECK(sql.value("SELECT lease_until > now() FROM agentrt_sessions WHERE agent = $1",
                    {key.agent})
          == "t");
    CHECK(sql.epoch_of(key) == e1); // renewed, not claimed again
  });
}

TEST_CASE("a node whose renewals stopped loses its sessions after the lease", "[postgres]") {
  run_with_time_limit(20s, "lapse", [] {
    SessionKey key{unique("lapse"), "s1"};
    long long e1 = 0;
    auto n2 = open_postgres_store(options("n2", 300ms));
    {
      auto n1 = open_postgres_store(options("n1", 300ms));
      REQUIRE(n1->load(key));
      REQUIRE(commit_and_wait(*n1, simple_turn(key, 1)));
      e1 = Sql{}.epoch_of(key);
      auto refused = n2->load(key);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().code == make_error_code(errc::session_elsewhere));
    } // n1 gone without a release (a crash, as the database sees it)
    auto gone = std::chrono::steady_clock::now();
    Result<std::optional<StoredSession>> claimed = Error{};
    REQUIRE(eventually([&] { return bool(claimed = n2->load(key)); }));
    CHECK(std::chrono::steady_clock::now() - gone < 2s);
    REQUIRE(claimed->has_value());
    CHECK((*claimed)->turns == 1);
    CHECK(Sql{}.epoch_of(key) > e1);
  });
}

TEST_CASE("two turns of one session in one batch commit in order", "[postgres]") {
  run_with_time_limit(20s, "one batch", [] {
    auto store = open_postgres_store(options("n1"));
    SessionKey key{unique("batch"), "s1"}, blocker{key.agent, "blocker"};
    REQUIRE(store->load(key));
    REQUIRE(store->load(blocker));
    // The writer thread runs `done`: holding it there queues the next turns into one batch.
    std::promise<void> release_writer;
    std::promise<void> writer_held;
    std::promise<Result<void>> r0, r1, r2;
    store->commit(std::make_shared<TurnRecord>(simple_turn(blocker, 1)),
                  [&](Result<void> r) {
                    writer_held.set_value();
                    release_writer.get_future().wait();
                    r0.set_value(std::move(r));
                  });
    writer_held.get_future().wait();
    auto t1 = simple_turn(key, 1);
    t1.state_writes = {{"k", "1"}};
    auto t2 = simple_turn(key, 2);
    t2.state_writes = {{"k", "2"}};
    store->commit(std::make_shared<TurnRecord>(t1), [&](Result<void> r) { r1.set_value(r); });
    store->commit(std::make_shared<TurnRecord>(t2), [&](Result<void> r) { r2.set_value(r); });
    release_writer.set_value();
    CHECK(r0.get_future().get());
    CHECK(r1.get_future().get());
    CHECK(r2.get_future().get());
    Sql sql;
    std::vector<std::string> k{key.agent, key.session_id};
    CHECK(sql.value("SELECT turns FROM agentrt_sessions WHERE agent = $1 AND session_id = $2", k)
          == "2");
    CHECK(sql.value("SELECT value FROM agentrt_state WHERE agent = $1 AND session_id = $2", k)
          == "2");
    auto history = sql.rows("SELECT idx, content FROM agentrt_history WHERE agent = $1"
                            " AND session_id = $2 ORDER BY idx", k);
    CHECK(history == std::vector<std::vector<std::string>>{
                       {"0", "q1"}, {"1", "a1"}, {"2", "q2"}, {"3", "a2"}});
    auto audit = sql.rows("SELECT turn FROM agentrt_turns WHERE agent = $1 AND session_id = $2"
                          " ORDER BY turn", k);
    CHECK(audit == std::vector<std::vector<std::string>>{{"1"}, {"2"}});
  });
}

TEST_CASE("a turn with text PostgreSQL refuses fails alone", "[postgres]") {
  run_with_time_limit(20s, "bad data", [] {
    auto store = open_postgres_store(options("n1"));
    SessionKey good{unique("baddata"), "good"}, nul{good.agent, "nul"}, utf{good.agent, "utf"};
    for (auto& k : {good, nul, utf})
      REQUIRE(store->load(k));
    std::promise<Result<void>> rg, rn, ru;
    auto bad_nul = simple_turn(nul, 1);
    bad_nul.entries[0].content = std::string("a\0b", 3);
    auto bad_utf = simple_turn(utf, 1);
    bad_utf.entries[0].content = "\xff\xfe"; // not UTF-8: the server refuses it
    store->commit(std::make_shared<TurnRecord>(bad_utf), [&](Result<void> r) { ru.set_value(r); });
    store->commit(std::make_shared<TurnRecord>(simple_turn(good, 1)),
                  [&](Result<void> r) { rg.set_value(r); });
    store->commit(std::make_shared<TurnRecord>(bad_nul), [&](Result<void> r) { rn.set_value(r); });
    auto g = rg.get_future().get();
    CHECK(g);
    if (!g)
      FAIL_CHECK(g.error().message);
    auto n = rn.get_future().get();
    REQUIRE_FALSE(n);
    CHECK(n.error().code == make_error_code(errc::store_failed));
    CHECK(n.error().message.find("NUL") != std::string::npos);
    auto u = ru.get_future().get();
    REQUIRE_FALSE(u);
    CHECK(u.error().code == make_error_code(errc::store_failed));
    Sql sql;
    CHECK(sql.value("SELECT string_agg(session_id || ':' || turns, ',' ORDER BY session_id)"
                    " FROM agentrt_sessions WHERE agent = $1",
                    {good.agent})
          == "good:1,nul:0,utf:0");
  });
}

TEST_CASE("owner_session across two nodes gives every caller one id", "[postgres]") {
  run_with_time_limit(20s, "owners", [] {
    auto n1 = open_postgres_store(options("n1"));
    auto n2 = open_postgres_store(options("n2"));
    auto agent = unique("owners");
    std::vector<std::thread> threads;
    std::vector<Result<OwnerSession>> got(8, Error{});
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&, i] {
        got[i] = (i % 2 ? n1 : n2)->owner_session(agent, "alice", "c" + std::to_string(i));
      });
    for (auto& t : threads)
      t.join();
    int created = 0;
    for (auto& r : got) {
      REQUIRE(r);
      CHECK(r->session_id == got[0]->session_id);
      created += r->created;
    }
    CHECK(created == 1);
  });
}

TEST_CASE("erase removes every row of the session", "[postgres]") {
  run_with_time_limit(20s, "erase", [] {
    auto store = open_postgres_store(options("n1"));
    SessionKey key{unique("erase"), "s1"};
    REQUIRE(store->owner_session(key.agent, "bob", key.session_id));
    REQUIRE(store->load(key));
    for (std::uint64_t n = 1; n <= 2; ++n) {
      auto t = simple_turn(key, n);
      t.state_writes = {{"k", "v"}};
      t.request = StoredRequest{"r" + std::to_string(n), n, n, "out", false, t.last_activity};
      REQUIRE(commit_and_wait(*store, t));
    }
    REQUIRE(store->erase(key));
    CHECK_FALSE(store->holds(key));
    Sql sql;
    for (auto table : {"sessions", "history", "state", "owners", "requests", "turns"})
      CHECK(sql.value(std::string{"SELECT count(*) FROM agentrt_"} + table + " WHERE agent = $1",
                      {key.agent})
            == "0");
  });
}

TEST_CASE("opening checks its options and names an unreachable server", "[postgres]") {
  run_with_time_limit(20s, "open", [] {
    auto port = std::to_string(free_port());
    auto o = options("n1", 10s, "host=127.0.0.1 port=" + port + " dbname=agentrt user=agentrt");
    REQUIRE_THROWS_AS(open_postgres_store(o), std::runtime_error);
    REQUIRE_THROWS_WITH(open_postgres_store(o), Catch::Contains("127.0.0.1:" + port));
    auto empty = options("n1");
    empty.conninfo.clear();
    CHECK_THROWS_AS(open_postgres_store(empty), std::invalid_argument);
    CHECK_THROWS_AS(open_postgres_store(options("n1", 50ms)), std::invalid_argument);
    auto spaced = options("n1");
    spaced.address = "http://a b";
    CHECK_THROWS_AS(open_postgres_store(spaced), std::invalid_argument);
    spaced.address = "x;y";
    CHECK_THROWS_AS(open_postgres_store(spaced), std::invalid_argument);
    spaced.address = "<x>";
    CHECK_THROWS_AS(open_postgres_store(spaced), std::invalid_argument);
  });
}

TEST_CASE("a newer schema is refused, naming its version", "[postgres]") {
  run_with_time_limit(20s, "schema", [] {
    Sql sql;
    auto db = unique("agentrt_newer");
    std::replace(db.begin(), db.end(), '-', '_');
    sql.rows("CREATE DATABASE " + db);
    auto conninfo = server_conninfo + " dbname=" + db;
    open_postgres_store(options("n1", 10s, conninfo)).reset(); // creates the schema
    {
      Sql other{conninfo};
      CHECK(other.value("SELECT value FROM agentrt_meta") == "1");
      other.rows("UPDATE agentrt_meta SET value = 99");
    }
    CHECK_THROWS_WITH(open_postgres_store(options("n1", 10s, conninfo)),
                      Catch::Contains("schema version 99"));
    sql.rows("DROP DATABASE " + db);
  });
}

TEST_CASE("a stopped server fails loads and commits, and the store recovers", "[postgres]") {
  run_with_time_limit(60s, "restart", [] {
    char tmpl[] = "/tmp/agentrt-pgr-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    auto script = [&](const std::string& cmd) {
      return std::system(("bash " PG_CLUSTER " " + cmd + " " + dir + " >" + dir
                          + "/conninfo.txt 2>&1").c_str());
    };
    struct Cleanup {
      std::function<void()> f;
      ~Cleanup() {
        f();
      }
    } cleanup{[&] {
      script("stop");
      std::filesystem::remove_all(dir);
    }};
    REQUIRE(script("start") == 0);
    std::string conninfo;
    std::getline(std::ifstream{dir + "/conninfo.txt"}, conninfo);
    auto store = open_postgres_store(options("n1", 10s, conninfo));
    SessionKey key{"restart", "s1"};
    REQUIRE(store->load(key));
    REQUIRE(commit_and_wait(*store, simple_turn(key, 1)));

    REQUIRE(script("stop") == 0);
    auto down = store->load(key);
    REQUIRE_FALSE(down);
    CHECK(down.error().code == make_error_code(errc::store_failed));
    CHECK(down.error().message.find("postgresql: ") == 0);
    auto lost = commit_and_wait(*store, simple_turn(key, 2));
    REQUIRE_FALSE(lost);
    CHECK(lost.error().code == make_error_code(errc::store_failed));

    REQUIRE(script("restart") == 0);
    Result<std::optional<StoredSession>> back = Error{};
    REQUIRE(eventually([&] { return bool(back = store->load(key)); }, 10s));
    REQUIRE(back->has_value());
    CHECK((*back)->turns == 1); // turn 2 was never acknowledged, nor written
    CHECK(commit_and_wait(*store, simple_turn(key, 2)));
  });
}

// Not run by ctest ([.]): turns per second with 1,000 sessions each committing its next turn
// as soon as the previous one is acknowledged.
TEST_CASE("group commit throughput with 1000 sessions", "[.][perf]") {
  auto store = open_postgres_store(options("perf"));
  auto agent = unique("perf");
  constexpr int sessions = 1000;
  std::vector<SessionKey> keys;
  for (int i = 0; i < sessions; ++i) {
    keys.push_back(SessionKey{agent, "s" + std::to_string(i)});
    REQUIRE(store->load(keys.back()));
  }
  std::atomic<long> committed{0}, failed{0};
  std::atomic<bool> stop{false};
  std::atomic<int> running{sessions};
  std::function<void(int, std::uint64_t)> next = [&](int s, std::uint64_t n) {
    if (stop) {
      --running;
      return;
    }
    auto t = simple_turn(keys[s], n);
    t.state_writes = {{"n", std::to_string(n)}};
    t.request = StoredRequest{"r" + std::to_string(n), n, n, "a" + std::to_string(n), false,
                              t.last_activity};
    store->commit(std::make_shared<TurnRecord>(std::move(t)), [&, s, n](Result<void> r) {
      if (r)
        ++committed;
      else
        ++failed;
      next(s, r ? n + 1 : n);
    });
  };
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < sessions; ++i)
    next(i, 1);
  std::this_thread::sleep_for(5s);
  stop = true;
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(eventually([&] { return running == 0; }, 10s));
  std::printf("%ld turns in %.2f s: %.0f turns/s (%ld failed)\n", committed.load(), secs,
              committed.load() / secs, failed.load());
  CHECK(failed == 0);
}

int main(int argc, char* argv[]) {
  if (const char* env = std::getenv("AGENTRT_TEST_POSTGRES"); env && *env)
    server_conninfo = env;
  else
    std::getline(std::ifstream{PG_CONNINFO_FILE}, server_conninfo);
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    listing = listing || std::string_view{argv[i]}.rfind("--list", 0) == 0;
  if (server_conninfo.empty() && !listing) {
    std::fprintf(stderr, "postgres_store_test: no server (set AGENTRT_TEST_POSTGRES, or run"
                         " through ctest): skipped\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
