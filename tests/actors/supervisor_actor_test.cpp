// The supervisor shard on CAF's test_coordinator: idle expiry timing, sessions with work
// never expiring, max_lifetime, and the max_sessions cap expiring the least recently used.

#include "support/actor_fixture.hpp"

#include <catch2/catch.hpp>

using namespace agentrt_test;

namespace {

RuntimeConfig expiry_config() {
  RuntimeConfig c;
  c.idle_timeout = 10s;
  c.max_lifetime = 1h;
  c.expiry_interval = 1s;
  c.max_sessions = std::nullopt;
  return c;
}

/// Advances virtual time in expiry_interval steps, delivering messages after each.
void advance(ActorFixture& f, std::chrono::seconds d) {
  for (auto t = 0s; t < d; t += 1s) {
    f.sched->advance_time(1s);
    f.sched->run();
  }
}

std::string ok_turn(Turn& t) {
  return "turn " + std::to_string(t.number());
}

} // namespace

TEST_CASE("an idle session expires after idle_timeout and not before", "[supervisor][expiry]") {
  ActorFixture f{expiry_config()};
  f.add_supervisor();
  f.add_agent("echo", ok_turn);
  f.send(f.make_call("echo", "s", "1"));
  advance(f, 9s);
  CHECK(f.session("echo", "s"));
  CHECK(f.metrics.snapshot().expirations == 0);
  advance(f, 1s);
  CHECK_FALSE(f.session("echo", "s"));
  CHECK(f.metrics.snapshot().expirations == 1);
  CHECK(f.metrics.snapshot().live_sessions == 0);
  // The next call recreates it, with the context it handed to the store.
  auto c = f.make_call("echo", "s", "2");
  f.send(c);
  CHECK(c->reply().output == "turn 2");
  CHECK(f.metrics.snapshot().activations == 2);
}

TEST_CASE("activity pushes expiry back", "[supervisor][expiry]") {
  ActorFixture f{expiry_config()};
  f.add_supervisor();
  f.add_agent("echo", ok_turn);
  f.send(f.make_call("echo", "s", "1"));
  advance(f, 6s);
  f.send(f.make_call("echo", "s", "2"));
  advance(f, 6s); // 12 s since creation, 6 s since the last call
  CHECK(f.session("echo", "s"));
  advance(f, 4s);
  CHECK_FALSE(f.session("echo", "s"));
}

TEST_CASE("a session with a running or queued turn is never expired", "[supervisor][expiry]") {
  ActorFixture f{expiry_config()};
  f.add_supervisor();
  f.add_agent("slow", ok_turn, AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a", BusyPolicy::enqueue, 1h);
  auto b = f.make_call("slow", "s", "b", BusyPolicy::enqueue, 1h);
  f.send(a);
  f.send(b);
  advance(f, 60s);
  CHECK(f.session("slow", "s"));
  f.run_job(); // a done, b starts
  advance(f, 60s);
  CHECK(f.session("slow", "s"));
  f.run_job(); // b done: idle from now on
  CHECK(b->reply().output == "turn 2");
  advance(f, 9s);
  CHECK(f.session("slow", "s"));
  advance(f, 1s);
  CHECK_FALSE(f.session("slow", "s"));
  CHECK(f.metrics.snapshot().expirations == 1);
}

TEST_CASE("a session older than max_lifetime ends at its first idle moment",
          "[supervisor][expiry]") {
  auto cfg = expiry_config();
  cfg.idle_timeout = 1h;
  cfg.max_lifetime = 30s;
  ActorFixture f{cfg};
  f.add_supervisor();
  f.add_agent("echo", ok_turn);
  for (int i = 0; i < 5; ++i) {
    f.send(f.make_call("echo", "s", "x"));
    advance(f, 5s);
  }
  CHECK(f.session("echo", "s")); // 25 s old, active every 5 s
  advance(f, 5s);
  CHECK_FALSE(f.session("echo", "s"));
  CHECK(f.metrics.snapshot().expirations == 1);
}

TEST_CASE("over max_sessions the least recently used idle session is expired first",
          "[supervisor][cap]") {
  auto cfg = expiry_config();
  cfg.idle_timeout = 1h;
  cfg.max_sessions = 3;
  ActorFixture f{cfg};
  f.svc.config = cfg;
  f.add_supervisor();
  f.add_agent("echo", ok_turn);
  for (auto id : {"s1", "s2", "s3"}) {
    f.send(f.make_call("echo", id, "x"));
    f.sched->advance_time(1s);
  }
  f.send(f.make_call("echo", "s1", "again")); // s1 is now the most recent
  f.sched->advance_time(1s);
  f.send(f.make_call("echo", "s4", "x"));
  CHECK(f.metrics.snapshot().live_sessions == 3);
  CHECK_FALSE(f.session("echo", "s2")); // least recently used
  CHECK(f.session("echo", "s1"));
  CHECK(f.session("echo", "s3"));
  CHECK(f.session("echo", "s4"));
  f.sched->advance_time(1s);
  f.send(f.make_call("echo", "s5", "x"));
  CHECK_FALSE(f.session("echo", "s3"));
  CHECK(f.metrics.snapshot().expirations == 2);
  CHECK(f.metrics.snapshot().live_sessions == 3);
}

TEST_CASE("the cap skips busy sessions", "[supervisor][cap]") {
  auto cfg = expiry_config();
  cfg.idle_timeout = 1h;
  cfg.max_sessions = 2;
  ActorFixture f{cfg};
  f.add_supervisor();
  f.add_agent("slow", ok_turn, AgentOptions{.blocking = true});
  f.add_agent("echo", ok_turn);
  auto busy = f.make_call("slow", "old", "x", BusyPolicy::enqueue, 1h);
  f.send(busy); // oldest, but running
  f.sched->advance_time(1s);
  f.send(f.make_call("echo", "mid", "x"));
  f.sched->advance_time(1s);
  f.send(f.make_call("echo", "new", "x"));
  CHECK(f.session("slow", "old"));
  CHECK_FALSE(f.session("echo", "mid"));
  CHECK(f.session("echo", "new"));
  f.run_job();
  CHECK(busy->reply().ok());
}

TEST_CASE("a session that declines a cap eviction becomes a candidate again at once",
          "[supervisor][cap]") {
  auto cfg = expiry_config();
  cfg.idle_timeout = 1h;
  cfg.max_sessions = 1;
  ActorFixture f{cfg};
  auto sup = f.add_supervisor();
  f.add_agent("echo", ok_turn);
  f.send(f.make_call("echo", "s1", "x"));
  auto s1 = *f.session("echo", "s1");
  f.sched->advance_time(1s);
  f.send(f.make_call("echo", "s2", "x"), false); // over the cap: s1 will be asked to expire
  auto& sup_state = dynamic_cast<caf::stateful_actor<SupervisorState, supervisor_actor::base>&>(
                      *caf::actor_cast<caf::abstract_actor*>(sup))
                      .state;
  while (sup_state.evictions_pending == 0) // until the supervisor has asked s1
    REQUIRE(f.sched->try_run_once());
  // A describe lands behind the expire request: s1 declines (its mailbox is not empty).
  auto described = std::make_shared<std::promise<std::optional<SessionInfo>>>();
  caf::anon_send(s1, describe_atom::value, described);
  f.sched->run();
  CHECK(f.metrics.snapshot().expirations == 0);
  CHECK(described->get_future().get().has_value());
  CHECK(f.session("echo", "s1"));
  CHECK(f.metrics.snapshot().live_sessions == 2);
  // The decline is not counted as a pending eviction: the next sweep evicts s1.
  f.sched->advance_time(1s);
  f.sched->run();
  CHECK_FALSE(f.session("echo", "s1"));
  CHECK(f.session("echo", "s2"));
  CHECK(f.metrics.snapshot().live_sessions == 1);
  CHECK(sup_state.evictions_pending == 0);
}
