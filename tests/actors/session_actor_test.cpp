// The session actor, step by step on CAF's test_coordinator: queueing order, busy
// policies, transactional turns, cancel, deadlines, close, expiry and drain.

#include "support/actor_fixture.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/base_sink.h>

#include <stdexcept>

using namespace agentrt_test;

namespace {

const auto started = EventKind::started;
const auto queued = EventKind::queued;
const auto completed = EventKind::completed;
const auto failed = EventKind::failed;
const auto cancelled = EventKind::cancelled;

/// A blocking agent that records inputs and returns "done:<input>", or "partial:<input>"
/// when it finds its stop token set.
struct Recorder {
  std::vector<std::string> inputs;
  TurnHandler handler() {
    return [this](Turn& t) {
      inputs.push_back(t.input());
      t.state().set("last", t.input());
      if (t.stop_requested())
        return "partial:" + t.input();
      return "done:" + t.input();
    };
  }
};

} // namespace

TEST_CASE("a non-blocking turn runs inline and streams started then completed", "[session]") {
  ActorFixture f;
  f.add_agent("echo", [](Turn& t) {
    t.emit("chunk-1");
    return "echo:" + t.input();
  });
  auto c = f.make_call("echo", "s1", "hi");
  REQUIRE(f.send(c) == SessionDirectory::Dispatch::sent);
  auto ev = ActorFixture::events(c);
  REQUIRE(ActorFixture::kinds(ev)
          == std::vector<EventKind>{started, EventKind::chunk, completed});
  for (std::size_t i = 0; i < ev.size(); ++i) {
    CHECK(ev[i].seq == i + 1);
    CHECK(ev[i].session_id == "s1");
    CHECK(ev[i].call_id == c->id);
    CHECK(ev[i].agent == "echo");
  }
  CHECK(ev[1].data == "chunk-1");
  CHECK(ev[2].data == "echo:hi");
  REQUIRE(c->ended());
  CHECK(c->reply().ok());
  CHECK(c->reply().output == "echo:hi");
  CHECK(c->reply().turn == 1);
  auto& st = f.state_of(*f.session("echo", "s1"));
  REQUIRE(st.data->history.size() == 2);
  CHECK(st.data->history[0] == Message{Role::user, "hi", {}});
  CHECK(st.data->history[1] == Message{Role::assistant, "echo:hi", {}});
  CHECK(f.metrics.snapshot().turns_completed == 1);
  CHECK(f.metrics.snapshot().activations == 1);
}

TEST_CASE("calls to a busy blocking session queue and run in arrival order", "[session]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b");
  auto c = f.make_call("slow", "s", "c");
  f.send(a);
  f.send(b);
  f.send(c);
  REQUIRE(f.executor.jobs.size() == 1); // only a runs
  auto eb = ActorFixture::events(b);
  auto ec = ActorFixture::events(c);
  REQUIRE(ActorFixture::kinds(eb) == std::vector<EventKind>{queued});
  REQUIRE(ActorFixture::kinds(ec) == std::vector<EventKind>{queued});
  CHECK(eb[0].queue_position == 1);
  CHECK(ec[0].queue_position == 2);
  CHECK(f.metrics.snapshot().queued_calls == 2);
  // a waits for a pool thread: it is not running yet, and says so (no started event).
  CHECK(f.metrics.snapshot().running_turns == 0);
  CHECK(ActorFixture::kinds(ActorFixture::events(a)).empty());
  while (f.run_job()) {
  }
  CHECK(rec.inputs == std::vector<std::string>{"a", "b", "c"});
  CHECK(a->reply().turn == 1);
  CHECK(b->reply().turn == 2);
  CHECK(c->reply().turn == 3);
  CHECK(c->reply().output == "done:c");
  CHECK(ActorFixture::kinds(ActorFixture::events(c)) == std::vector<EventKind>{started, completed});
  auto s = f.metrics.snapshot();
  CHECK(s.queued_calls == 0);
  CHECK(s.running_turns == 0);
  CHECK(s.turns_completed == 3);
}

TEST_CASE("busy policy reject fails at once with session_busy and changes nothing",
          "[session][policy]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b", BusyPolicy::reject);
  f.send(a);
  f.send(b);
  REQUIRE(b->ended());
  CHECK(b->reply().error == errc::session_busy);
  CHECK(ActorFixture::kinds(ActorFixture::events(b)) == std::vector<EventKind>{failed});
  f.run_job();
  CHECK(rec.inputs == std::vector<std::string>{"a"});
  CHECK(f.state_of(*f.session("slow", "s")).data->history.size() == 2);
  CHECK(f.metrics.snapshot().calls_rejected == 1);
}

TEST_CASE("a full queue fails further calls with overloaded", "[session][policy]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true, .max_queue_depth = 2});
  std::vector<CallPtr> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(f.make_call("slow", "s", std::to_string(i)));
    f.send(calls.back());
  }
  // 0 runs, 1 and 2 wait, 3 finds the queue full.
  REQUIRE(calls[3]->ended());
  CHECK(calls[3]->reply().error == errc::overloaded);
  CHECK(calls[3]->reply().message.find("2 calls waiting") != std::string::npos);
  while (f.run_job()) {
  }
  CHECK(rec.inputs == std::vector<std::string>{"0", "1", "2"});
}

TEST_CASE("interrupt stops the running turn, keeps its output and runs the new call next",
          "[session][policy]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto queued_b = f.make_call("slow", "s", "b");
  auto c = f.make_call("slow", "s", "c", BusyPolicy::interrupt);
  f.send(a);
  f.send(queued_b);
  f.send(c);
  CHECK(a->stop.stop_requested());
  CHECK(ActorFixture::events(c).at(0).queue_position == 1);
  while (f.run_job()) {
  }
  // a saw its stop token and returned early; c overtook b.
  CHECK(rec.inputs == std::vector<std::string>{"a", "c", "b"});
  CHECK(a->reply().error == errc::interrupted);
  CHECK(a->reply().output == "partial:a");
  CHECK(ActorFixture::kinds(ActorFixture::events(a)) == std::vector<EventKind>{started, cancelled});
  CHECK(c->reply().ok());
  auto& st = f.state_of(*f.session("slow", "s"));
  REQUIRE(st.data->history.size() == 6);
  CHECK(st.data->history[0].content == "a");
  CHECK(st.data->history[1].content == "partial:a"); // kept
  CHECK(st.data->history[2].content == "c");
  CHECK(st.data->history[4].content == "b");
  CHECK(st.data->turns == 3);
}

TEST_CASE("interrupting calls run in their arrival order, ahead of ordinary ones",
          "[session][policy]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b");
  auto x = f.make_call("slow", "s", "x", BusyPolicy::interrupt);
  auto y = f.make_call("slow", "s", "y", BusyPolicy::interrupt);
  for (auto& c : {a, b, x, y})
    f.send(c);
  CHECK(ActorFixture::events(x).at(0).queue_position == 1);
  CHECK(ActorFixture::events(y).at(0).queue_position == 2);
  while (f.run_job()) {
  }
  CHECK(rec.inputs == std::vector<std::string>{"a", "x", "y", "b"});
}

TEST_CASE("a call cancelled on its way does not act on the session", "[session][policy]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  f.send(a);
  auto r = f.make_call("slow", "s", "r", BusyPolicy::rollback);
  r->cancel(); // the caller gave up before the session saw it
  f.send(r);
  CHECK_FALSE(a->ended()); // no rollback happened
  while (f.run_job()) {
  }
  CHECK(a->reply().ok());
  CHECK(rec.inputs == std::vector<std::string>{"a"});
}

TEST_CASE("rollback discards the running turn and its input and runs the new call",
          "[session][policy]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto first = f.make_call("slow", "s", "first");
  f.send(first);
  f.run_job();
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b", BusyPolicy::rollback);
  f.send(a);
  f.send(b);
  // a's caller knows at once: its turn is being thrown away.
  REQUIRE(a->ended());
  CHECK(a->reply().error == errc::rolled_back);
  CHECK(a->stop.stop_requested());
  while (f.run_job()) {
  }
  // a was rolled back before a pool thread took it: its handler never ran.
  CHECK(rec.inputs == std::vector<std::string>{"first", "b"});
  auto& st = f.state_of(*f.session("slow", "s"));
  REQUIRE(st.data->history.size() == 4);
  CHECK(st.data->history[0].content == "first");
  CHECK(st.data->history[2].content == "b");
  CHECK(st.data->state.at("last") == "b");
  CHECK(b->reply().turn == 2); // a's turn never counted
  CHECK(f.metrics.snapshot().turns_cancelled == 1);
}

TEST_CASE("a handler that throws leaves history and state exactly as before", "[session][tx]") {
  ActorFixture f;
  f.add_agent("tx", [](Turn& t) -> std::string {
    t.state().set("x", t.input());
    t.append(Message{Role::tool_result, "scratch", "tool"});
    if (t.input() == "boom")
      throw std::runtime_error("model said no");
    if (t.input() == "fail") {
      t.fail("refused politely");
      return "ignored";
    }
    return "ok:" + t.input();
  });
  auto c1 = f.make_call("tx", "s", "one");
  f.send(c1);
  auto& st = f.state_of(*f.session("tx", "s"));
  auto history_before = st.data->history;
  auto state_before = st.data->state;
  REQUIRE(history_before.size() == 3);

  auto c2 = f.make_call("tx", "s", "boom");
  f.send(c2);
  CHECK(c2->reply().error == errc::agent_failed);
  CHECK(c2->reply().message == "model said no");
  CHECK(ActorFixture::kinds(ActorFixture::events(c2)) == std::vector<EventKind>{started, failed});
  CHECK(st.data->history == history_before);
  CHECK(st.data->state == state_before);

  auto c3 = f.make_call("tx", "s", "fail");
  f.send(c3);
  CHECK(c3->reply().error == errc::agent_failed);
  CHECK(c3->reply().message == "refused politely");
  CHECK(st.data->history == history_before);

  auto c4 = f.make_call("tx", "s", "two");
  f.send(c4);
  CHECK(c4->reply().ok());
  CHECK(c4->reply().turn == 2);
  CHECK(st.data->state.at("x") == "two");
  CHECK(f.metrics.snapshot().turns_failed == 2);
}

TEST_CASE("a factory that throws fails the call and is retried on the next call",
          "[session][tx]") {
  ActorFixture f;
  int attempts = 0;
  struct Ok final : Agent {
    std::string handle(Turn&) override {
      return "ok";
    }
  };
  f.registry.add("flaky",
                 [&](const SessionKey&) -> std::unique_ptr<Agent> {
                   if (++attempts == 1)
                     throw std::runtime_error("no model loaded");
                   return std::make_unique<Ok>();
                 },
                 {});
  auto c1 = f.make_call("flaky", "s", "x");
  f.send(c1);
  CHECK(c1->reply().error == errc::agent_failed);
  CHECK(c1->reply().message == "the agent factory threw: no model loaded");
  auto c2 = f.make_call("flaky", "s", "y");
  f.send(c2);
  CHECK(c2->reply().ok());
  CHECK(attempts == 2);
}

TEST_CASE("cancelling a queued call takes it out of the queue at once", "[session][cancel]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b");
  f.send(a);
  f.send(b);
  REQUIRE(b->cancel());
  CHECK_FALSE(b->cancel()); // only once
  f.sched->run();           // the withdraw message
  auto& st = f.state_of(*f.session("slow", "s"));
  CHECK(st.queue.empty());
  CHECK(f.metrics.snapshot().queued_calls == 0);
  CHECK(f.metrics.snapshot().turns_cancelled == 1);
  CHECK(ActorFixture::kinds(ActorFixture::events(b)) == std::vector<EventKind>{queued, cancelled});
  while (f.run_job()) {
  }
  CHECK(rec.inputs == std::vector<std::string>{"a"});
}

TEST_CASE("cancelling the running turn stops it, discards it, and the session stays usable",
          "[session][cancel]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  f.send(a);
  REQUIRE(a->cancel());
  CHECK(a->stop.stop_requested());
  CHECK(a->reply().error == errc::cancelled);
  f.run_job(); // the handler sees the stop token and returns
  auto& st = f.state_of(*f.session("slow", "s"));
  CHECK(st.data->history.empty());
  CHECK(st.data->turns == 0);
  CHECK_FALSE(st.running);
  auto b = f.make_call("slow", "s", "b");
  f.send(b);
  f.run_job();
  CHECK(b->reply().ok());
  CHECK(b->reply().turn == 1);
  auto s = f.metrics.snapshot();
  CHECK(s.turns_cancelled == 1);
  CHECK(s.turns_completed == 1);
  CHECK(s.running_turns == 0);
}

TEST_CASE("a queued call fails with timeout when its deadline passes", "[session][timeout]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a", BusyPolicy::enqueue, 10s);
  auto b = f.make_call("slow", "s", "b", BusyPolicy::enqueue, 100ms);
  f.send(a);
  f.send(b);
  f.sched->advance_time(99ms);
  f.sched->run();
  CHECK_FALSE(b->ended());
  f.sched->advance_time(1ms);
  f.sched->run();
  REQUIRE(b->ended());
  CHECK(b->reply().error == errc::timeout);
  CHECK_FALSE(a->ended());
  while (f.run_job()) {
  }
  CHECK(rec.inputs == std::vector<std::string>{"a"});
  CHECK(a->reply().ok());
}

TEST_CASE("a running turn past its deadline ends its call with timeout and is discarded",
          "[session][timeout]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a", BusyPolicy::enqueue, 1s);
  f.send(a);
  f.sched->advance_time(1s);
  f.sched->run();
  REQUIRE(a->ended()); // the caller is answered at the deadline, not when the handler returns
  CHECK(a->reply().error == errc::timeout);
  CHECK(a->stop.stop_requested());
  f.run_job();
  auto& st = f.state_of(*f.session("slow", "s"));
  CHECK(st.data->history.empty());
  CHECK(st.data->state.empty());
  CHECK(f.metrics.snapshot().turns_cancelled == 1);
}

TEST_CASE("close ends queued and running calls with session_closed and stops the session",
          "[session][close]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b");
  f.send(a);
  f.send(b);
  auto hdl = f.directory.begin_close(SessionKey{"slow", "s"}, key_hash("slow", "s"));
  REQUIRE(hdl);
  auto closed = std::make_shared<std::promise<void>>();
  auto acknowledged = closed->get_future();
  caf::anon_send(*hdl, close_atom::value, closed);
  f.sched->run();
  CHECK(acknowledged.wait_for(0s) == std::future_status::ready);
  // While the close is in progress, calls for the key are refused, not given a new session.
  CHECK(f.send(f.make_call("slow", "s", "racing")) == SessionDirectory::Dispatch::closing);
  f.directory.end_close(SessionKey{"slow", "s"}, key_hash("slow", "s"));
  CHECK(a->reply().error == errc::session_closed);
  CHECK(b->reply().error == errc::session_closed);
  // It stops at once; its blocking turn, still out, is discarded when it returns.
  CHECK(f.metrics.live.load() == 0);
  CHECK(f.metrics.snapshot().running_turns == 0);
  f.run_job();
  CHECK(rec.inputs.empty()); // a's call ended before a pool thread took it: it never ran
  // The next call for the key gets a fresh session.
  auto c = f.make_call("slow", "s", "c");
  f.send(c);
  f.run_job();
  CHECK(c->reply().turn == 1);
  CHECK(f.metrics.snapshot().activations == 2);
}

TEST_CASE("expiry is declined while a call waits in the mailbox, so the call is never lost",
          "[session][expiry]") {
  ActorFixture f;
  int runs = 0;
  f.add_agent("echo", [&](Turn& t) {
    ++runs;
    return "turn " + std::to_string(t.number());
  });
  auto c1 = f.make_call("echo", "s", "1");
  f.send(c1);
  auto hdl = *f.session("echo", "s");
  auto observed = f.state_of(hdl).activity->last_active.load();
  // The supervisor's expire request and a new call race: the call lands behind it.
  caf::anon_send(hdl, expire_atom::value, observed, std::uint8_t{0});
  auto c2 = f.make_call("echo", "s", "2");
  f.send(c2, false);
  f.sched->run();
  REQUIRE(c2->ended());
  CHECK(c2->reply().output == "turn 2"); // same session, context kept
  CHECK(f.metrics.snapshot().expirations == 0);
  // Idle now: an expire with the current activity succeeds.
  f.sched->advance_time(1s);
  observed = f.state_of(hdl).activity->last_active.load();
  caf::anon_send(hdl, expire_atom::value, observed, std::uint8_t{0});
  f.sched->run();
  CHECK(f.metrics.snapshot().expirations == 1);
  CHECK_FALSE(f.session("echo", "s"));
  auto c3 = f.make_call("echo", "s", "3");
  f.send(c3);
  CHECK(c3->reply().output == "turn 3"); // a new actor, with the context it handed over
  CHECK(f.metrics.snapshot().activations == 2);
  CHECK(runs == 3);
}

TEST_CASE("expiry is declined when the session was active since the supervisor looked",
          "[session][expiry]") {
  ActorFixture f;
  f.add_agent("echo", [](Turn&) { return std::string{"x"}; });
  f.send(f.make_call("echo", "s", "1"));
  auto hdl = *f.session("echo", "s");
  auto observed = f.state_of(hdl).activity->last_active.load();
  f.sched->advance_time(1s);
  f.send(f.make_call("echo", "s", "2"));
  caf::anon_send(hdl, expire_atom::value, observed, std::uint8_t{0});
  f.sched->run();
  CHECK(f.session("echo", "s"));
  CHECK(f.metrics.snapshot().expirations == 0);
}

TEST_CASE("describe reports a session's vital signs", "[session]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  f.send(f.make_call("slow", "s", "a"));
  f.run_job();
  f.send(f.make_call("slow", "s", "b"));
  f.send(f.make_call("slow", "s", "c"));
  auto promise = std::make_shared<std::promise<std::optional<SessionInfo>>>();
  auto future = promise->get_future();
  caf::anon_send(*f.session("slow", "s"), describe_atom::value, promise);
  f.sched->run();
  auto info = future.get();
  REQUIRE(info);
  CHECK(info->key == SessionKey{"slow", "s"});
  CHECK(info->turns == 1);
  CHECK(info->history_size == 2);
  CHECK(info->queue_depth == 1);
  CHECK(info->running);
  CHECK(info->created <= info->last_activity);
}

TEST_CASE("drain fails queued calls with shutting_down and lets the running turn finish",
          "[session][shutdown]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  auto b = f.make_call("slow", "s", "b");
  f.send(a);
  f.send(b);
  auto sessions = f.directory.close_all();
  REQUIRE(sessions.size() == 1);
  caf::anon_send(sessions[0], drain_atom::value, std::int64_t{5'000'000'000});
  f.sched->run();
  CHECK(b->reply().error == errc::shutting_down);
  CHECK_FALSE(a->ended());
  f.run_job();
  CHECK(a->reply().ok()); // finished within the drain time
  CHECK(f.metrics.live.load() == 0);
  auto late = f.make_call("slow", "s", "late");
  CHECK(f.send(late) == SessionDirectory::Dispatch::closed);
}

TEST_CASE("drain stops a turn still running when the drain time is over", "[session][shutdown]") {
  ActorFixture f;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a");
  f.send(a);
  auto sessions = f.directory.close_all();
  caf::anon_send(sessions[0], drain_atom::value, std::int64_t{1'000'000'000});
  f.sched->run();
  f.sched->advance_time(1s);
  f.sched->run();
  REQUIRE(a->ended());
  CHECK(a->reply().error == errc::shutting_down);
  CHECK(a->stop.stop_requested());
  CHECK(f.metrics.live.load() == 0);
  CHECK(f.metrics.snapshot().running_turns == 0);
  f.executor.run_one(); // the abandoned turn returns into a session that is gone
}

namespace {

/// A sink that throws on a line containing `needle`: with an error handler that rethrows,
/// the exception leaves the logger, standing for any failure that escapes a session's
/// handler (agent code, stores and callbacks are guarded; this is a bug's stand-in).
class ThrowingSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
  explicit ThrowingSink(std::string needle) : needle_(std::move(needle)) {
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (std::string_view{msg.payload.data(), msg.payload.size()}.find(needle_)
        != std::string_view::npos)
      throw std::runtime_error("boom");
  }
  void flush_() override {
  }

private:
  std::string needle_;
};

} // namespace

TEST_CASE("a session that dies of an internal failure ends every call it had, mailbox included",
          "[session][failure]") {
  ActorFixture f;
  f.add_agent("echo", [](Turn& t) { return t.input(); });
  // A stored session: loading it logs "restored", which throws out of the handler.
  StoredSession stored;
  stored.key = SessionKey{"echo", "s"};
  stored.turns = 1;
  REQUIRE(f.store.put(stored));
  auto log = std::make_shared<spdlog::logger>("throwing", std::make_shared<ThrowingSink>("restored"));
  log->set_level(spdlog::level::debug);
  log->set_error_handler([](const std::string& what) { throw std::runtime_error(what); });
  f.svc.log = log;
  auto a = f.make_call("echo", "s", "a");
  auto b = f.make_call("echo", "s", "b");
  f.send(a, false);
  f.send(b, false); // behind a in the mailbox: dropped unread when the session dies
  f.sched->run();
  REQUIRE(a->ended());
  REQUIRE(b->ended());
  CHECK(a->reply().error == errc::internal_error);
  CHECK(b->reply().error == errc::internal_error);
  CHECK_FALSE(f.session("echo", "s")); // it left the directory
  CHECK(f.metrics.live.load() == 0);
  f.svc.log = f.log;
  auto c = f.make_call("echo", "s", "c");
  f.send(c);
  CHECK(c->reply().output == "c"); // a new session serves the key
}

TEST_CASE("an inline turn's end waits behind calls that arrived during it", "[session][busy]") {
  ActorFixture f;
  f.add_agent("echo", [](Turn& t) { return t.input(); });
  auto a = f.make_call("echo", "s", "a");
  auto b = f.make_call("echo", "s", "b", BusyPolicy::reject);
  f.send(a, false);
  f.send(b, false); // in the mailbox while a's turn runs
  f.sched->run();
  CHECK(a->reply().output == "a");
  CHECK(b->reply().error == errc::session_busy);
  // With nothing behind it, an inline turn ends at once: no extra message.
  auto c = f.make_call("echo", "s", "c", BusyPolicy::reject);
  f.send(c, false);
  CHECK(f.sched->run() == 1);
  CHECK(c->reply().output == "c");
}

namespace {

/// A durable store that holds every commit until the test completes it.
class HeldStore final : public DurableStore {
public:
  std::vector<std::function<void(Result<void>)>> pending;

  Result<std::optional<StoredSession>> load(const SessionKey&) override {
    return std::optional<StoredSession>{};
  }
  Result<void> erase(const SessionKey&) override {
    return {};
  }
  Result<OwnerSession> owner_session(std::string_view, std::string_view,
                                     const std::string& c) override {
    return OwnerSession{c, true};
  }
  Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point,
                                          std::chrono::system_clock::time_point) override {
    return std::vector<SessionKey>{};
  }
  void commit(std::shared_ptr<const TurnRecord>, std::function<void(Result<void>)> done) override {
    pending.push_back(std::move(done));
  }
};

} // namespace

TEST_CASE("a turn being written past its call's deadline arms no timer loop, and commits",
          "[session][durable][timeout]") {
  ActorFixture f;
  auto held = std::make_shared<HeldStore>();
  GuardedStore durable{held, f.log};
  f.svc.store = &durable;
  Recorder rec;
  f.add_agent("slow", rec.handler(), AgentOptions{.blocking = true});
  auto a = f.make_call("slow", "s", "a", BusyPolicy::enqueue, 10s);
  f.send(a);
  f.run_job(); // the turn is done within its deadline; the store is still writing it
  REQUIRE(held->pending.size() == 1);
  f.sched->advance_time(20s); // past the call's deadline, the write still in flight
  int rounds = 0;
  while (f.sched->trigger_timeouts() && rounds < 100) {
    f.sched->run();
    ++rounds;
  }
  CHECK(rounds <= 1); // one tick (the deadline's), not a loop of zero-delay timers
  CHECK_FALSE(a->ended()); // claimed: the deadline cannot end it any more
  held->pending[0](Result<void>{});
  f.sched->run();
  REQUIRE(a->ended());
  CHECK(a->reply().ok());
  CHECK(a->reply().turn == 1);
}

TEST_CASE("a one-shot call cancelled on its way still ends its session",
          "[session][one-shot]") {
  ActorFixture f;
  f.add_agent("echo", [](Turn& t) { return t.input(); });
  auto c = f.make_call("echo", "minted", "x");
  c->one_shot = true;
  c->ephemeral = true;
  c->cancel();
  f.send(c);
  CHECK_FALSE(f.session("echo", "minted"));
  CHECK(f.metrics.live.load() == 0);
}
