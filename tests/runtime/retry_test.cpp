// Retries and re-attaching: request ids (a repeated request runs no turn) and
// Runtime::attach (a new handle on a running or recently ended call). Every test body runs
// under a time limit, on real threads.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::eventually;
using agentrt_test::Gate;
using agentrt_test::kinds_of;
using agentrt_test::read_all;
using agentrt_test::run_with_time_limit;
using agentrt_test::code_of;

namespace {

RuntimeConfig config() {
  return agentrt_test::test_config();
}

/// A blocking agent that emits "a", "b", "c", waits for the gate, and answers with its
/// turn count: the test decides when its turn ends.
void register_gated(Runtime& rt, Gate& gate, std::atomic<int>& ran) {
  rt.register_handler(
    "gated",
    [&](Turn& t) {
      ran.fetch_add(1);
      for (auto s : {"a", "b", "c"})
        t.emit(s);
      gate.arrived();
      gate.wait(t.stop_token());
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      return "answer " + std::to_string(n) + " to " + t.input();
    },
    AgentOptions{.blocking = true});
}

std::vector<std::uint64_t> seqs_of(const std::vector<Event>& events) {
  std::vector<std::uint64_t> out;
  for (auto& e : events)
    out.push_back(e.seq);
  return out;
}

} // namespace

// -- request ids -------------------------------------------------------------------------------

TEST_CASE("a double click with one request id runs one turn and both callers get its reply",
          "[retry][request_id]") {
  run_with_time_limit(30s, "double click", [] {
    Runtime rt{config()};
    Gate gate;
    std::atomic<int> ran{0};
    register_gated(rt, gate, ran);
    Request req{.agent = "gated", .session_id = "s", .input = "plan", .request_id = "click-1"};
    auto first = rt.invoke(req).value();
    gate.wait_arrivals(1);
    auto second = rt.invoke(req).value(); // joins the running turn
    gate.open();
    auto a = read_all(first);
    auto b = read_all(second);
    auto ra = first.take();
    auto rb = second.take();
    CHECK(ran.load() == 1);
    CHECK(ra.ok());
    CHECK(rb.ok());
    CHECK(ra.output == "answer 1 to plan");
    CHECK(rb.output == ra.output);
    CHECK(rb.turn == 1);
    CHECK_FALSE(ra.replayed);
    CHECK(rb.replayed);
    CHECK(rb.call_id == second.id());
    // The follower saw the first call's stream from its start, with its seq numbers.
    CHECK(kinds_of(b) == kinds_of(a));
    CHECK(seqs_of(b) == seqs_of(a));
    CHECK(kinds_of(a)
          == std::vector<EventKind>{EventKind::started, EventKind::chunk, EventKind::chunk,
                                    EventKind::chunk, EventKind::completed});
    for (auto& e : b)
      CHECK(e.call_id == second.id());
    auto stats = rt.stats();
    CHECK(stats.turns_completed == 1);
    CHECK(stats.calls_replayed == 1);
    CHECK(rt.history({"gated", "s"})->total == 2); // one user entry, one answer
  });
}

TEST_CASE("100 concurrent retries of one request id run one turn and all get its reply",
          "[retry][request_id]") {
  run_with_time_limit(60s, "100 retries", [] {
    Runtime rt{config()};
    Gate gate;
    std::atomic<int> ran{0};
    register_gated(rt, gate, ran);
    Request req{.agent = "gated", .session_id = "s", .input = "x", .request_id = "r"};
    auto first = rt.invoke(req).value();
    gate.wait_arrivals(1); // the turn runs: every retry below finds it running
    constexpr int n = 100;
    std::vector<Call> retries(n - 1);
    std::vector<std::thread> threads;
    for (int i = 0; i < n - 1; ++i)
      threads.emplace_back([&, i] { retries[i] = rt.invoke(req).value(); });
    for (auto& t : threads)
      t.join();
    eventually([&] { return rt.stats().calls_replayed == n - 1; }); // all are following it
    gate.open();
    auto r = first.take();
    CHECK(r.output == "answer 1 to x");
    int exact = 0;
    for (auto& c : retries) {
      auto rr = c.take();
      exact += rr.ok() && rr.replayed && rr.output == r.output && rr.turn == 1;
    }
    CHECK(exact == n - 1);
    CHECK(ran.load() == 1);
    CHECK(rt.stats().turns_completed == 1);
    CHECK(rt.history({"gated", "s"})->total == 2);
  });
}

TEST_CASE("a retry after the turn committed gets its outcome at once and runs nothing",
          "[retry][request_id]") {
  run_with_time_limit(30s, "retry after commit", [] {
    Runtime rt{config()};
    std::atomic<int> ran{0};
    rt.register_handler("count", [&](Turn& t) {
      ran.fetch_add(1);
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      return "n=" + std::to_string(n);
    });
    Request req{.agent = "count", .session_id = "s", .input = "x", .request_id = "r1"};
    auto first = rt.ask(req);
    CHECK(first.output == "n=1");
    auto retry = rt.invoke(req).value();
    auto events = read_all(retry);
    auto r = retry.take();
    CHECK(r.ok());
    CHECK(r.replayed);
    CHECK(r.output == "n=1");
    CHECK(r.turn == 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == EventKind::completed);
    CHECK(events[0].data == "n=1");
    CHECK(events[0].seq == 1);
    // A new request id runs a new turn.
    CHECK(rt.ask({.agent = "count", .session_id = "s", .input = "x", .request_id = "r2"}).output
          == "n=2");
    CHECK(ran.load() == 2);
    CHECK(rt.stats().calls_replayed == 1);
  });
}

TEST_CASE("a request whose first attempt failed runs again on retry", "[retry][request_id]") {
  run_with_time_limit(30s, "retry after failure", [] {
    Runtime rt{config()};
    std::atomic<int> attempts{0};
    rt.register_handler("flaky", [&](Turn& t) {
      if (attempts.fetch_add(1) == 0)
        throw std::runtime_error("model unavailable");
      return "ok " + t.input();
    });
    Request req{.agent = "flaky", .session_id = "s", .input = "x", .request_id = "r"};
    auto first = rt.ask(req);
    CHECK(first.error == errc::agent_failed);
    auto second = rt.ask(req);
    CHECK(second.ok());
    CHECK_FALSE(second.replayed);
    CHECK(second.output == "ok x");
    auto third = rt.ask(req);
    CHECK(third.replayed);
    CHECK(third.output == "ok x");
    CHECK(attempts.load() == 2);
  });
}

TEST_CASE("bad request ids are refused clearly and change nothing", "[retry][request_id][errors]") {
  run_with_time_limit(30s, "bad request ids", [] {
    Runtime rt{config()};
    rt.register_handler("echo", [](Turn& t) { return t.input(); });
    CHECK(rt.ask({.agent = "echo", .session_id = "s", .input = "a", .request_id = "r"}).ok());
    auto reused = rt.ask({.agent = "echo", .session_id = "s", .input = "b", .request_id = "r"});
    CHECK(reused.error == errc::request_id_reused);
    CHECK(reused.message == "request id 'r' was used in this session with a different input");
    auto other_params = rt.ask(
      {.agent = "echo", .session_id = "s", .input = "a", .params = {{"k", "v"}}, .request_id = "r"});
    CHECK(other_params.error == errc::request_id_reused);
    auto bad = rt.invoke({.agent = "echo", .session_id = "s", .input = "a", .request_id = "no spaces"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == errc::invalid_request_id);
    CHECK(bad.error().message
          == "request id 'no spaces' is not 1-128 characters of [A-Za-z0-9._:-]");
    auto too_long = rt.invoke(
      {.agent = "echo", .session_id = "s", .input = "a", .request_id = std::string(129, 'x')});
    CHECK(too_long.error().code == errc::invalid_request_id);
    auto one_shot = rt.invoke({.agent = "echo", .input = "a", .request_id = "r"});
    CHECK(one_shot.error().code == errc::invalid_request_id);
    // The same id in another session is another request.
    CHECK(rt.ask({.agent = "echo", .session_id = "t", .input = "b", .request_id = "r"}).output == "b");
    CHECK(rt.history({"echo", "s"})->total == 2);
    CHECK(rt.stats().live_sessions == 2);
    CHECK(rt.stats().calls_rejected == 5);
    auto off = config();
    off.request_ids_kept = 0;
    Runtime rt_off{off};
    rt_off.register_handler("echo", [](Turn& t) { return t.input(); });
    auto refused = rt_off.invoke({.agent = "echo", .session_id = "s", .input = "a", .request_id = "r"});
    CHECK(refused.error().message == "request ids are off (RuntimeConfig::request_ids_kept is 0)");
  });
}

TEST_CASE("request ids are remembered up to their count and kept across expiry",
          "[retry][request_id][expiry]") {
  run_with_time_limit(30s, "request window", [] {
    auto cfg = config();
    cfg.request_ids_kept = 2;
    cfg.idle_timeout = 20ms;
    cfg.expiry_interval = 5ms;
    Runtime rt{cfg};
    std::atomic<int> ran{0};
    rt.register_handler("count", [&](Turn& t) {
      ran.fetch_add(1);
      auto n = std::stoi(t.state().get_or("n", "0")) + 1;
      t.state().set("n", std::to_string(n));
      return "n=" + std::to_string(n);
    });
    auto ask = [&](const char* rid) {
      return rt.ask({.agent = "count", .session_id = "s", .input = "x", .request_id = rid});
    };
    CHECK(ask("r1").output == "n=1");
    CHECK(ask("r2").output == "n=2");
    CHECK(ask("r3").output == "n=3"); // r1 is forgotten: the last two are kept
    eventually([&] { return rt.stats().live_sessions == 0; }); // expired: into the store
    auto r3 = ask("r3");
    CHECK(r3.replayed);
    CHECK(r3.output == "n=3");
    auto r2 = ask("r2");
    CHECK(r2.replayed);
    CHECK(r2.output == "n=2");
    auto r1 = ask("r1"); // forgotten: runs again
    CHECK_FALSE(r1.replayed);
    CHECK(r1.output == "n=4");
    CHECK(ran.load() == 4);
  });
}

// -- attach ------------------------------------------------------------------------------------

TEST_CASE("a reader that dropped re-attaches and sees every event once in order",
          "[retry][attach]") {
  run_with_time_limit(30s, "re-attach", [] {
    Runtime rt{config()};
    rt.register_handler("streamer", [](AsyncTurn& t) -> Task<std::string> {
      for (int i = 1; i <= 30; ++i) {
        if (!co_await t.sleep(1ms))
          co_return "";
        t.emit(std::to_string(i));
      }
      co_return "done";
    });
    auto call =
      rt.invoke({.agent = "streamer", .session_id = "s", .input = "x", .resumable = true}).value();
    // The first reader takes 10 events and goes away.
    std::vector<Event> first;
    while (first.size() < 10)
      if (auto e = call.next_event(5s))
        first.push_back(*e);
    auto last_seen = first.back().seq;
    auto again = rt.attach({"streamer", "s"}, call.id(), last_seen).value();
    auto rest = read_all(again);
    auto reply = again.take();
    std::vector<Event> all = first;
    all.insert(all.end(), rest.begin(), rest.end());
    REQUIRE(all.size() == 32); // started, 30 chunks, completed
    for (std::size_t i = 0; i < all.size(); ++i) {
      CHECK(all[i].seq == i + 1);
      CHECK(all[i].call_id == call.id());
    }
    CHECK(all.front().kind == EventKind::started);
    CHECK(all.back().kind == EventKind::completed);
    std::string chunks;
    for (auto& e : all)
      if (e.kind == EventKind::chunk)
        chunks += e.data + ",";
    CHECK(chunks == "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,");
    CHECK(reply.ok());
    CHECK(reply.output == "done");
    CHECK(reply.call_id == call.id());
    CHECK(call.take().output == "done");
  });
}

TEST_CASE("attach to an ended call replays what is kept and then its outcome", "[retry][attach]") {
  run_with_time_limit(30s, "attach ended", [] {
    Runtime rt{config()};
    rt.register_handler("echo", [](Turn& t) {
      t.emit("one");
      t.emit("two");
      return t.input();
    });
    auto call = rt.invoke({.agent = "echo", .session_id = "s", .input = "hi", .resumable = true}).value();
    auto original = read_all(call);
    REQUIRE(original.size() == 4);
    std::vector<Event> pushed;
    std::mutex mu;
    auto later = rt.attach({"echo", "s"}, call.id(), 1, [&](const Event& e) {
                      std::lock_guard g{mu};
                      pushed.push_back(e);
                    }).value();
    CHECK(later.reply().output == "hi");
    eventually([&] { return later.stream_ended(); });
    std::lock_guard g{mu};
    CHECK(seqs_of(pushed) == std::vector<std::uint64_t>{2, 3, 4});
    CHECK(kinds_of(pushed)
          == std::vector<EventKind>{EventKind::chunk, EventKind::chunk, EventKind::completed});
  });
}

TEST_CASE("attach with bad input or to what is no longer kept fails clearly", "[retry][attach][errors]") {
  run_with_time_limit(30s, "attach errors", [] {
    auto cfg = config();
    cfg.events_kept = 8;
    cfg.calls_kept = 2;
    Runtime rt{cfg};
    rt.register_handler("chatty", [](Turn& t) {
      for (int i = 0; i < 50; ++i)
        t.emit(std::to_string(i));
      return t.input();
    });
    auto call = rt.invoke({.agent = "chatty", .session_id = "s", .input = "x", .resumable = true}).value();
    auto events = read_all(call);
    REQUIRE(events.size() == 52);
    auto outcome = [&](std::uint64_t id, std::uint64_t after) {
      auto a = rt.attach({"chatty", "s"}, id, after);
      REQUIRE(a);
      auto r = a->take();
      return code_of(r.error) + ": " + r.message;
    };
    CHECK(outcome(call.id(), 1).rfind("events_expired: events 2 to ", 0) == 0);
    CHECK(outcome(call.id(), 53)
          == "invalid_range: event 53 is past the last event of call " + std::to_string(call.id())
               + " (52)");
    CHECK(outcome(call.id() + 1000, 0)
          == "not_found: session s has no resumable call " + std::to_string(call.id() + 1000)
               + " running or recently ended");
    // The last events are still there.
    auto tail = rt.attach({"chatty", "s"}, call.id(), 50).value();
    auto tail_events = read_all(tail);
    CHECK(seqs_of(tail_events) == std::vector<std::uint64_t>{51, 52});
    // More resumable calls push this one out of the session's last two (pruned once the
    // session holds twice that many).
    for (std::string in : {"y", "z", "w"})
      CHECK(rt.ask({.agent = "chatty", .session_id = "s", .input = in, .resumable = true}).ok());
    CHECK(outcome(call.id(), 50)
          == "not_found: session s has no resumable call " + std::to_string(call.id())
               + " running or recently ended");
    // A call not made resumable cannot be attached to.
    auto plain = rt.invoke({.agent = "chatty", .session_id = "s", .input = "p"}).value();
    read_all(plain);
    CHECK(outcome(plain.id(), 0).rfind("not_found: session s has no resumable call", 0) == 0);
    // Refused before reaching a session.
    auto no_session = rt.attach({"chatty", "other"}, call.id(), 0);
    REQUIRE_FALSE(no_session);
    CHECK(no_session.error().code == errc::not_found);
    CHECK(no_session.error().message == "no live session chatty/other: its calls are no longer kept");
    CHECK(rt.attach({"nope", "s"}, 1, 0).error().code == errc::unknown_agent);
    CHECK(rt.attach({"chatty", "bad id"}, 1, 0).error().code == errc::invalid_session_id);
    CHECK(rt.stats().live_sessions == 1);
  });
}

TEST_CASE("an attached handle that is cancelled stops following and the call runs on",
          "[retry][attach]") {
  run_with_time_limit(30s, "attach cancel", [] {
    Runtime rt{config()};
    Gate gate;
    std::atomic<int> ran{0};
    register_gated(rt, gate, ran);
    auto call =
      rt.invoke({.agent = "gated", .session_id = "s", .input = "x", .resumable = true}).value();
    gate.wait_arrivals(1);
    auto watcher = rt.attach({"gated", "s"}, call.id(), 0).value();
    std::vector<Event> seen;
    while (seen.size() < 4) // started and the three chunks, relayed
      if (auto e = watcher.next_event(5s))
        seen.push_back(*e);
    CHECK(watcher.cancel());
    CHECK(watcher.take().error == errc::cancelled);
    auto last = watcher.next_event(5s);
    REQUIRE(last);
    CHECK(last->kind == EventKind::cancelled);
    CHECK(last->seq == 5); // after the relayed ones, never back to 1
    CHECK(seqs_of(seen) == std::vector<std::uint64_t>{1, 2, 3, 4});
    gate.open();
    auto r = call.take();
    CHECK(r.ok());
    CHECK(r.output == "answer 1 to x");
    CHECK(rt.stats().turns_completed == 1);
    CHECK(rt.stats().turns_cancelled == 0);
  });
}
