// CallState: ordered events with sequence numbers, exactly one outcome, each outcome
// counted once in its metrics stripe.

#include "support/time_limit.hpp"

#include "core/call_state.hpp"
#include "core/metrics.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace agentrt;
using namespace agentrt::detail;

namespace {

CallPtr make_call(MetricStripe* stripe = nullptr) {
  Request r;
  r.agent = "a";
  r.session_id = "s";
  r.input = "in";
  return std::make_shared<CallState>(7, std::move(r), Clock::now(), std::chrono::seconds(5),
                                     stripe);
}

struct Counts {
  std::uint64_t completed, failed, cancelled, rejected;
  bool operator==(const Counts&) const = default;
};

Counts counts(const MetricStripe& s) {
  return {s.completed.load(), s.failed.load(), s.cancelled.load(), s.rejected.load()};
}

} // namespace

TEST_CASE("events come out in order with consecutive sequence numbers", "[channel]") {
  auto c = make_call();
  c->push(EventKind::started);
  c->push(EventKind::chunk, "a");
  c->push(EventKind::chunk, "b", 0, "sub");
  Reply r;
  r.output = "done";
  CHECK(c->commit([] {}, r));
  std::vector<Event> got;
  while (auto e = c->next_event(std::chrono::milliseconds(0)))
    got.push_back(*e);
  REQUIRE(got.size() == 4);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].seq == i + 1);
    CHECK(got[i].call_id == 7);
    CHECK(got[i].session_id == "s");
  }
  CHECK(got[1].agent == "a");
  CHECK(got[2].agent == "sub");
  CHECK(got[3].kind == EventKind::completed);
  CHECK(got[3].data == "done");
  CHECK(c->stream_ended());
  CHECK_FALSE(c->next_event(std::chrono::milliseconds(0)));
}

TEST_CASE("the first outcome wins and later ones change nothing", "[channel]") {
  auto c = make_call();
  CHECK(c->cancel());
  bool committed = false;
  CHECK_FALSE(c->commit([&] { committed = true; }, Reply{}));
  CHECK_FALSE(committed); // a cancelled call is never committed
  CHECK_FALSE(c->end(errc::timeout, "late"));
  CHECK(c->reply().error == errc::cancelled);
  CHECK(c->stop.stop_requested());
  c->push(EventKind::chunk, "ignored");
  std::vector<EventKind> kinds;
  while (auto e = c->next_event(std::chrono::milliseconds(0)))
    kinds.push_back(e->kind);
  CHECK(kinds == std::vector<EventKind>{EventKind::cancelled});
}

TEST_CASE("a commit that won cannot be cancelled afterwards", "[channel]") {
  auto c = make_call();
  Reply r;
  r.output = "x";
  CHECK(c->commit([] {}, r));
  CHECK_FALSE(c->cancel());
  CHECK(c->reply().ok());
  CHECK(c->reply().session_id == "s");
  CHECK(c->reply().call_id == 7);
}

TEST_CASE("on_done runs exactly once, before or after completion", "[channel]") {
  auto before = make_call();
  int runs = 0;
  before->on_done([&](const Reply& r) {
    ++runs;
    CHECK(r.error == errc::timeout);
  });
  before->end(errc::timeout, "t");
  before->end(errc::timeout, "t");
  CHECK(runs == 1);
  auto after = make_call();
  after->end(errc::agent_failed, "f");
  after->on_done([&](const Reply& r) {
    ++runs;
    CHECK(r.message == "f");
  });
  CHECK(runs == 2);
}

TEST_CASE("a reader blocked on next_event wakes for an event from another thread",
          "[channel]") {
  agentrt_test::run_with_time_limit(std::chrono::seconds(30), "blocked reader", [] {
    auto c = make_call();
    std::thread writer{[&] {
      c->push(EventKind::started);
      c->end(errc::agent_failed, "boom");
    }};
    auto first = c->next_event(std::nullopt);
    auto second = c->next_event(std::nullopt);
    writer.join();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->kind == EventKind::started);
    CHECK(second->kind == EventKind::failed);
    CHECK(second->error == errc::agent_failed);
    CHECK_FALSE(c->next_event(std::nullopt)); // the stream is over: no wait
  });
}

TEST_CASE("every outcome is counted once, in the counter its error belongs to", "[channel][metrics]") {
  MetricStripe s;
  // A commit: completed; a second ending changes nothing.
  auto a = make_call(&s);
  CHECK(a->commit([] {}, Reply{}));
  CHECK_FALSE(a->end(errc::timeout, "late"));
  CHECK(counts(s) == Counts{1, 0, 0, 0});
  // Refused before the session took it: rejected, even for shutdown or close.
  make_call(&s)->end(errc::overloaded, "full");
  make_call(&s)->end(errc::shutting_down, "bye");
  CHECK(counts(s) == Counts{1, 0, 0, 2});
  // Accepted (queued or started), then lost to shutdown or close: cancelled.
  auto b = make_call(&s);
  b->admitted = true;
  b->end(errc::shutting_down, "bye");
  CHECK(counts(s) == Counts{1, 0, 1, 2});
  // Cancel, timeout and the busy policies' victims: cancelled, admitted or not.
  make_call(&s)->cancel();
  make_call(&s)->end(errc::timeout, "slow");
  CHECK(counts(s) == Counts{1, 0, 3, 2});
  // The agent failed, or a durable store could not save a turn that ran: failed.
  make_call(&s)->end(errc::agent_failed, "boom");
  auto c = make_call(&s);
  c->admitted = true;
  REQUIRE(c->claim());
  c->end_claimed(errc::store_failed, "disk");
  CHECK(counts(s) == Counts{1, 2, 3, 2});
  // A store that could not load the session before the call ran: rejected.
  make_call(&s)->end(errc::store_failed, "disk");
  CHECK(counts(s) == Counts{1, 2, 3, 3});
}

TEST_CASE("a claimed call ignores cancel and plain ends and only the claimed ending ends it",
          "[channel]") {
  auto c = make_call();
  REQUIRE(c->claim());
  CHECK_FALSE(c->claim());
  CHECK_FALSE(c->cancel());
  CHECK_FALSE(c->end(errc::timeout, "late"));
  CHECK_FALSE(c->commit([] {}, Reply{}));
  CHECK_FALSE(c->ended());
  bool applied = false;
  Reply r;
  r.output = "saved";
  c->commit_claimed([&] { applied = true; }, r);
  CHECK(applied);
  CHECK(c->ended());
  CHECK(c->reply().output == "saved");
  CHECK_FALSE(c->stop.stop_requested()); // a committed call's turn is not asked to stop
}
