// CallQueue: the busy policies and the bound, without actors.

#include "core/call_queue.hpp"
#include "core/metrics.hpp"

#include <catch2/catch.hpp>

using namespace agentrt;
using namespace agentrt::detail;
using namespace std::chrono_literals;

namespace {

CallPtr call(std::uint64_t id, BusyPolicy policy = BusyPolicy::enqueue,
             Clock::duration timeout = 1h) {
  Request r;
  r.agent = "a";
  r.session_id = "s";
  r.on_busy = policy;
  return std::make_shared<CallState>(id, std::move(r), Clock::time_point{}, timeout);
}

std::vector<std::uint64_t> drain_ids(CallQueue& q) {
  std::vector<std::uint64_t> ids;
  while (!q.empty())
    ids.push_back(q.pop()->id);
  return ids;
}

} // namespace

TEST_CASE("ordinary calls wait in arrival order at their positions", "[queue]") {
  CallQueue q;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto a = q.admit(call(i), 10);
    CHECK(a.verdict == CallQueue::Verdict::queued);
    CHECK(a.position == i);
  }
  CHECK(drain_ids(q) == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("interrupt and rollback calls wait ahead of ordinary ones, in their own order",
          "[queue]") {
  CallQueue q;
  q.admit(call(1), 10);
  q.admit(call(2), 10);
  auto i = q.admit(call(3, BusyPolicy::interrupt), 10);
  CHECK(i.verdict == CallQueue::Verdict::interrupt);
  CHECK(i.position == 1);
  auto r = q.admit(call(4, BusyPolicy::rollback), 10);
  CHECK(r.verdict == CallQueue::Verdict::rollback);
  CHECK(r.position == 2);
  q.admit(call(5), 10);
  CHECK(drain_ids(q) == std::vector<std::uint64_t>{3, 4, 1, 2, 5});
}

TEST_CASE("the bound holds for every policy but reject, which never waits", "[queue]") {
  CallQueue q;
  CHECK(q.admit(call(1), 2).verdict == CallQueue::Verdict::queued);
  CHECK(q.admit(call(2, BusyPolicy::interrupt), 2).verdict == CallQueue::Verdict::interrupt);
  CHECK(q.admit(call(3), 2).verdict == CallQueue::Verdict::overloaded);
  CHECK(q.admit(call(4, BusyPolicy::rollback), 2).verdict == CallQueue::Verdict::overloaded);
  auto rejected = call(5, BusyPolicy::reject);
  CHECK(q.admit(rejected, 2).verdict == CallQueue::Verdict::busy);
  CHECK_FALSE(rejected->admitted.load());
  CHECK(q.size() == 2);
}

TEST_CASE("a withdrawn call leaves the queue and the urgent ones stay ahead", "[queue]") {
  CallQueue q;
  q.admit(call(1), 10);
  q.admit(call(2, BusyPolicy::interrupt), 10);
  q.admit(call(3, BusyPolicy::interrupt), 10);
  REQUIRE(q.withdraw(2));
  CHECK_FALSE(q.withdraw(2));
  q.admit(call(4, BusyPolicy::interrupt), 10);
  CHECK(drain_ids(q) == std::vector<std::uint64_t>{3, 4, 1});
}

TEST_CASE("expire takes out the calls past their deadline and tells the next deadline",
          "[queue]") {
  CallQueue q;
  q.admit(call(1, BusyPolicy::enqueue, 10s), 10);
  q.admit(call(2, BusyPolicy::enqueue, 1s), 10);
  q.admit(call(3, BusyPolicy::enqueue, 5s), 10);
  std::vector<std::uint64_t> expired;
  auto next = q.expire(Clock::time_point{} + 2s, [&](const CallPtr& c) { expired.push_back(c->id); });
  CHECK(expired == std::vector<std::uint64_t>{2});
  CHECK(next == Clock::time_point{} + 5s);
  CHECK(drain_ids(q) == std::vector<std::uint64_t>{1, 3});
  CHECK(q.expire(Clock::time_point{} + 1h, [](const CallPtr&) {}) == Clock::time_point::max());
}

TEST_CASE("the queued gauge counts every call in and out, whichever way it leaves", "[queue]") {
  MetricStripe s;
  {
    CallQueue q;
    q.count_in(&s.queued);
    for (std::uint64_t i = 1; i <= 100; ++i)
      q.admit(call(i), 1000);
    CHECK(s.queued.load() == 100);
    for (int i = 0; i < 40; ++i)
      q.pop(); // past the compaction point: the consumed front is dropped
    q.withdraw(77);
    q.expire(Clock::time_point{} + 2h, [](const CallPtr&) {}); // every deadline is past
    CHECK(s.queued.load() == 0);
    CHECK(q.empty());
    for (std::uint64_t i = 1; i <= 5; ++i)
      q.admit(call(i), 1000);
    CHECK(q.drain().size() == 5);
    q.admit(call(9), 1000);
    CHECK(s.queued.load() == 1);
  } // a queue that goes away with calls in it releases them from the gauge
  CHECK(s.queued.load() == 0);
}
