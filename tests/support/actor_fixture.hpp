#pragma once

// A deterministic world for actor tests: CAF's test_coordinator (messages are delivered only
// when the test says so, timers fire only when the test advances the clock) and a manual
// executor (blocking turns run only when the test says so).

#include "actors/messages.hpp"
#include "actors/services.hpp"
#include "actors/session_actor.hpp"
#include "actors/session_directory.hpp"
#include "actors/supervisor_actor.hpp"
#include "core/agent_registry.hpp"
#include "core/call_state.hpp"
#include "core/executor.hpp"
#include "core/metrics.hpp"
#include "stores/guarded_store.hpp"

#include <agentrt/agentrt.hpp>
#include <agentrt/session_store.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace agentrt_test {

using namespace agentrt;
using namespace agentrt::detail;
using namespace std::chrono_literals;

/// Runs blocking jobs when the test asks, on the test thread.
class ManualExecutor final : public Executor {
public:
  void post(std::function<void()> job) override {
    jobs.push_back(std::move(job));
  }

  /// Runs the oldest posted job; false if there is none.
  bool run_one() {
    if (jobs.empty())
      return false;
    auto job = std::move(jobs.front());
    jobs.pop_front();
    job();
    return true;
  }

  std::deque<std::function<void()>> jobs;
};

class ActorFixture {
public:
  ActorFixture() : ActorFixture(RuntimeConfig{}) {
    // nop
  }

  explicit ActorFixture(RuntimeConfig config) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    svc.config = config;
    svc.log = log;
    svc.executor = &executor;
    svc.gate = std::make_shared<ResultGate>();
    svc.metrics = &metrics;
    svc.directory = &directory;
    svc.store = &store;
  }

  ~ActorFixture() {
    // End every actor while the system exists; pending timers keep their receivers alive,
    // so deliver what is left and do not wait for them.
    for (auto& s : directory.close_all())
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& s : svc.supervisors)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    sched->run();
    svc.supervisors.clear();
    sys->await_actors_before_shutdown(false);
    sys.reset();
  }

  /// Adds one supervisor shard (tests of expiry and the cap).
  supervisor_actor add_supervisor() {
    auto sup = sys->spawn(supervisor_behavior, &svc, false);
    svc.supervisors.push_back(sup);
    sched->run();
    return sup;
  }

  void add_agent(const std::string& name, TurnHandler fn, AgentOptions options = {}) {
    auto shared = std::make_shared<TurnHandler>(std::move(fn));
    struct Fn final : Agent {
      std::shared_ptr<TurnHandler> fn;
      std::string handle(Turn& t) override {
        return (*fn)(t);
      }
    };
    registry.add(
      name,
      [shared](const SessionKey&) {
        auto a = std::make_unique<Fn>();
        a->fn = shared;
        return a;
      },
      options);
  }

  CallPtr make_call(std::string agent, std::string session, std::string input,
                    BusyPolicy policy = BusyPolicy::enqueue,
                    caf::timespan timeout = std::chrono::minutes(5)) {
    Request r;
    r.agent = std::move(agent);
    r.session_id = std::move(session);
    r.input = std::move(input);
    r.on_busy = policy;
    auto& stripe = metrics.stripe(key_hash(r.agent, r.session_id));
    return std::make_shared<CallState>(next_id++, std::move(r), sys->clock().now(), timeout,
                                       &stripe);
  }

  /// Sends `c` the way Runtime::invoke does (through the directory) and runs the world.
  SessionDirectory::Dispatch send(const CallPtr& c, bool run_now = true) {
    auto hash = key_hash(c->agent, c->session_id);
    auto result = directory.dispatch(c, hash, [&]() -> session_actor {
      auto entry = registry.find(c->agent);
      if (!entry)
        return {};
      return spawn_session(*sys, svc, SessionKey{c->agent, c->session_id}, std::move(entry),
                           hash);
    });
    if (run_now)
      sched->run();
    return result;
  }

  std::optional<session_actor> session(const std::string& agent, const std::string& id) {
    return directory.find(SessionKey{agent, id}, key_hash(agent, id));
  }

  /// The state of a live session actor (read between steps only).
  SessionState& state_of(const session_actor& hdl) {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
    return dynamic_cast<caf::stateful_actor<SessionState, session_actor::base>&>(*ptr).state;
  }

  /// Runs one blocking job and delivers its result.
  bool run_job() {
    bool ran = executor.run_one();
    sched->run();
    return ran;
  }

  /// Every event currently in `c`'s stream, without waiting.
  static std::vector<Event> events(const CallPtr& c) {
    std::vector<Event> out;
    while (auto e = c->next_event(Clock::duration::zero()))
      out.push_back(std::move(*e));
    return out;
  }

  static std::vector<EventKind> kinds(const std::vector<Event>& events) {
    std::vector<EventKind> out;
    for (auto& e : events)
      out.push_back(e.kind);
    return out;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  ManualExecutor executor;
  Metrics metrics;
  SessionDirectory directory;
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>(
    "test", std::make_shared<spdlog::sinks::null_sink_mt>());
  GuardedStore store{make_memory_store(), log};
  AgentRegistry registry;
  Services svc;
  std::uint64_t next_id = 1;
};

} // namespace agentrt_test
