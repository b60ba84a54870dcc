// How a session reacts to a store that leases it (DurableStore::holds, release, and the
// lease errors), with a leasing store faked over SQLite so each step is under the test's
// control: a fenced commit, a session another node holds, a lease that lapsed, and the
// lease let go at idle expiry and at shutdown. The PostgreSQL store itself is tested in
// postgres_store_test.

#include "support/calls.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>
#include <unistd.h>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::Gate;
using agentrt_test::run_with_time_limit;
namespace fs = std::filesystem;

namespace {

/// SQLite with a lease on top, each part switched by the test.
class LeasingStore final : public DurableStore {
public:
  explicit LeasingStore(const std::string& path) : inner_(open_sqlite_store(path)) {
  }

  std::atomic<bool> elsewhere{false}; ///< load: another node holds the lease
  std::atomic<bool> fence{false};     ///< commit: refused as stale, nothing written
  std::atomic<bool> holding{true};    ///< holds()
  std::atomic<int> loads{0};
  std::atomic<int> releases{0};
  std::atomic<int> commits{0}; ///< written

  Result<std::optional<StoredSession>> load(const SessionKey& key) override {
    if (elsewhere)
      return make_elsewhere_error("node-b", "http://10.0.0.2:8080");
    loads.fetch_add(1);
    return inner_->load(key);
  }
  Result<std::optional<StoredSession>> read(const SessionKey& key) override {
    return inner_->read(key);
  }
  void commit(std::shared_ptr<const TurnRecord> r, std::function<void(Result<void>)> done) override {
    if (fence) {
      done(Error{errc::lease_lost, "node-a no longer holds the lease"});
      return;
    }
    commits.fetch_add(1);
    inner_->commit(std::move(r), std::move(done));
  }
  bool holds(const SessionKey&) const noexcept override {
    return holding;
  }
  void release(const SessionKey&) override {
    releases.fetch_add(1);
  }
  Result<void> erase(const SessionKey& key) override {
    return inner_->erase(key);
  }
  Result<OwnerSession> owner_session(std::string_view a, std::string_view o,
                                     const std::string& c) override {
    return inner_->owner_session(a, o, c);
  }
  Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point c,
                                          std::chrono::system_clock::time_point a) override {
    return inner_->expired(c, a);
  }

  /// The store behind the lease: what another node writes.
  DurableStore& inner() {
    return *inner_;
  }

private:
  std::shared_ptr<DurableStore> inner_;
};

struct Fixture {
  fs::path dir;
  std::shared_ptr<LeasingStore> store;
  Fixture() {
    char tmpl[] = "/tmp/agentrt-lease-XXXXXX";
    dir = mkdtemp(tmpl);
    store = std::make_shared<LeasingStore>((dir / "s.db").string());
  }
  ~Fixture() {
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  RuntimeConfig config() const {
    RuntimeConfig c;
    c.worker_threads = 2;
    c.store = store;
    return c;
  }
};

/// "turn N, history H": what the session holds when the turn runs.
std::string counter(Turn& t) {
  auto n = std::stoi(t.state().get_or("n", "0")) + 1;
  t.state().set("n", std::to_string(n));
  return "n=" + std::to_string(n) + " history=" + std::to_string(t.history().size());
}

} // namespace

TEST_CASE("a fenced commit ends its call and the calls queued behind it with lease_lost, "
          "and the session loads again",
          "[store][lease]") {
  run_with_time_limit(30s, "fenced commit", [] {
    Fixture f;
    Runtime rt{f.config()};
    Gate gate;
    rt.register_handler(
      "slow",
      [&](Turn& t) {
        if (t.input() == "wait") {
          gate.arrived();
          gate.wait(t.stop_token());
        }
        return counter(t);
      },
      AgentOptions{.blocking = true});
    CHECK(rt.ask({.agent = "slow", .session_id = "s1", .input = "one"}).output == "n=1 history=0");
    CHECK(f.store->loads == 1);

    auto held = rt.invoke({.agent = "slow", .session_id = "s1", .input = "wait"}).value();
    gate.wait_arrivals(1);
    auto queued = rt.invoke({.agent = "slow", .session_id = "s1", .input = "behind"}).value();
    f.store->fence = true; // another node took the session over meanwhile
    gate.open();
    auto& r1 = held.reply();
    CHECK(r1.error == errc::lease_lost);
    CHECK(r1.error == condition::unavailable);
    CHECK(r1.message == "node-a no longer holds the lease");
    auto& r2 = queued.reply();
    CHECK(r2.error == errc::lease_lost);
    CHECK(r2.turn == 0);
    CHECK(f.store->commits == 1);

    // What the other node committed is what this one finds when it claims the session again.
    f.store->fence = false;
    CHECK(rt.ask({.agent = "slow", .session_id = "s1", .input = "two"}).output == "n=2 history=2");
    CHECK(f.store->loads == 2);
    CHECK(rt.ask({.agent = "slow", .session_id = "s1", .input = "three"}).output
          == "n=3 history=4");
    CHECK(f.store->loads == 2);
  });
}

TEST_CASE("a session another node holds fails with session_elsewhere naming its address, and "
          "changes nothing",
          "[store][lease]") {
  run_with_time_limit(30s, "elsewhere", [] {
    Fixture f;
    Runtime rt{f.config()};
    rt.register_handler("counter", counter);
    f.store->elsewhere = true;
    auto r = rt.ask({.agent = "counter", .session_id = "s1", .input = "x", .request_id = "r1"});
    CHECK(r.error == errc::session_elsewhere);
    CHECK(r.error == condition::elsewhere);
    CHECK(to_string(condition_of(r.error)) == "elsewhere");
    CHECK(elsewhere_address(r.message) == "http://10.0.0.2:8080");
    CHECK(r.turn == 0);
    CHECK(f.store->commits == 0);

    // The lease ended: the same request runs here, once.
    f.store->elsewhere = false;
    auto ok = rt.ask({.agent = "counter", .session_id = "s1", .input = "x", .request_id = "r1"});
    CHECK(ok.output == "n=1 history=0");
    CHECK(ok.turn == 1);
    CHECK_FALSE(ok.replayed);
    CHECK(f.store->commits == 1);
  });
}

TEST_CASE("the owner's address is read back from a session_elsewhere message only",
          "[store][lease]") {
  auto e = make_elsewhere_error("n1", "grpc://h:50051");
  CHECK(e.code == errc::session_elsewhere);
  CHECK(elsewhere_address(e.message) == "grpc://h:50051");
  CHECK(elsewhere_address("the session store failed").empty());
  CHECK(elsewhere_address("unterminated at <http://x").empty());
}

TEST_CASE("an idle session whose lease lapsed loads again before its next turn, a held one "
          "does not",
          "[store][lease]") {
  run_with_time_limit(30s, "lapsed lease", [] {
    Fixture f;
    Runtime rt{f.config()};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s1", .input = "a"}).output == "n=1 history=0");
    CHECK(rt.ask({.agent = "counter", .session_id = "s1", .input = "b"}).output == "n=2 history=2");
    CHECK(f.store->loads == 1);
    f.store->holding = false;
    CHECK(rt.ask({.agent = "counter", .session_id = "s1", .input = "c"}).output == "n=3 history=4");
    CHECK(f.store->loads == 2);
    f.store->holding = true;
    CHECK(rt.ask({.agent = "counter", .session_id = "s1", .input = "d"}).output == "n=4 history=6");
    CHECK(f.store->loads == 2);
  });
}

TEST_CASE("a read of a session whose lease lapsed is answered from the store, without a claim",
          "[store][lease]") {
  run_with_time_limit(30s, "stale read", [] {
    Fixture f;
    Runtime rt{f.config()};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "s1", .input = "a"}).output == "n=1 history=0");
    // Another node takes the session over and commits turn 2 (this node is not told).
    f.store->holding = false;
    TurnRecord r;
    r.key = SessionKey{"counter", "s1"};
    r.turns = 2;
    r.first_index = 2;
    r.entries = {Message{Role::user, "b", ""}, Message{Role::assistant, "elsewhere", ""}};
    r.state_writes = {{"n", std::string{"2"}}};
    r.created = r.last_activity = std::chrono::system_clock::now();
    std::promise<Result<void>> written;
    f.store->inner().commit(std::make_shared<TurnRecord>(r),
                            [&](Result<void> res) { written.set_value(std::move(res)); });
    REQUIRE(written.get_future().get().has_value());

    auto page = rt.history({"counter", "s1"});
    REQUIRE(page);
    CHECK(page->turns == 2);
    REQUIRE(page->entries.size() == 4);
    CHECK(page->entries[3].content == "elsewhere");
    CHECK(rt.state({"counter", "s1"})->at("n") == "2");
    CHECK(f.store->loads == 1); // reading claimed nothing
    // The next call claims it again and continues from what is stored.
    f.store->holding = true;
    CHECK(rt.ask({.agent = "counter", .session_id = "s1", .input = "c"}).output == "n=3 history=4");
    CHECK(f.store->loads == 2);
  });
}

TEST_CASE("idle expiry and shutdown let the lease go", "[store][lease]") {
  run_with_time_limit(30s, "release", [] {
    Fixture f;
    auto cfg = f.config();
    cfg.idle_timeout = 50ms;
    cfg.expiry_interval = 10ms;
    {
      Runtime rt{cfg};
      rt.register_handler("counter", counter);
      CHECK(rt.ask({.agent = "counter", .session_id = "idle", .input = "a"}).ok());
      for (auto st = rt.stats(); st.expirations == 0 || st.live_sessions != 0; st = rt.stats())
        std::this_thread::sleep_for(1ms);
      CHECK(f.store->releases == 1);
      cfg.idle_timeout = std::chrono::hours(1);
    }
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    CHECK(rt.ask({.agent = "counter", .session_id = "busy", .input = "a"}).ok());
    CHECK(rt.ask({.agent = "counter", .session_id = "one-shot-free", .input = "a"}).ok());
    // A one-shot call (no session id) keeps nothing, so it has no lease to let go.
    CHECK(rt.ask({.agent = "counter", .input = "a"}).ok());
    rt.shutdown(1s);
    CHECK(f.store->releases == 3);
  });
}
