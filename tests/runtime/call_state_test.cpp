// The per-call channel: ordered events with sequence numbers, exactly one outcome.

#include "support/time_limit.hpp"

#include "core/call_state.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace agentrt;
using namespace agentrt::detail;

namespace {

CallPtr make_call() {
  Request r;
  r.agent = "a";
  r.session_id = "s";
  r.input = "in";
  return std::make_shared<CallState>(7, std::move(r), Clock::now(), std::chrono::seconds(5));
}

} // namespace

TEST_CASE("events come out in order with consecutive sequence numbers", "[channel]") {
  auto c = make_call();
  c->push(EventKind::started);
  c->push(EventKind::chunk, "a");
  c->push(EventKind::chunk, "b", 0, "sub");
  Reply r;
  r.output = "done";
  CHECK(c->commit_and_complete([] {}, r));
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

TEST_CASE("the first outcome wins; later ones change nothing", "[channel]") {
  auto c = make_call();
  CHECK(c->cancel());
  bool committed = false;
  CHECK_FALSE(c->commit_and_complete([&] { committed = true; }, Reply{}));
  CHECK_FALSE(committed); // a cancelled call is never committed
  CHECK_FALSE(c->finish_if_open(errc::timeout, "late"));
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
  CHECK(c->commit_and_complete([] {}, r));
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
  before->finish_if_open(errc::timeout, "t");
  before->finish_if_open(errc::timeout, "t");
  CHECK(runs == 1);
  auto after = make_call();
  after->finish_if_open(errc::agent_failed, "f");
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
      c->finish_if_open(errc::agent_failed, "boom");
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
