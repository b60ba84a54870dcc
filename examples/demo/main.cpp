// agentrt-demo: plays the situations that break agent backends against one Runtime and
// prints what happened.
//
//   1. a double click on "Generate": two calls to one session
//   2. ten users streaming at once
//   3. a retry after a failed turn
//   4. a follow-up that keeps context, and a new session that starts fresh
//   5. an idle session expiring, and the next call bringing it back
//   6. a trip planner: an orchestrator with sub-agents and tools in one conversation
//   7. a thousand users waiting on the model at once, without a thread each
//
// The assistant streams from a real model when AGENTRT_LLM_URL names an OpenAI-compatible
// server (e.g. http://127.0.0.1:8080/v1 for llama.cpp; AGENTRT_LLM_MODEL picks the model),
// and from a built-in mock otherwise.

#include <agentrt/agentrt.hpp>

#include "common/demo_agents.hpp"
#include "common/travel_agents.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace agentrt;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

void title(const char* text) {
  std::printf("\n== %s\n", text);
}

std::string short_id(const std::string& id) {
  return id.size() > 13 ? id.substr(0, 8) + "..." : id;
}

/// The model upstream fails once (a 503), then recovers: outside the session, like a real
/// provider, so a retry meets a healthy upstream.
std::atomic<int> upstream_failures_left{1};

/// The model the assistant streams from; null: the built-in mock.
model::ModelClient* llm = nullptr;

/// The examples' assistant, plus one upstream that fails once for the retry scenario.
Task<std::string> assistant(AsyncTurn& t) {
  if (t.input() != "flaky")
    co_return co_await demo::assistant(t, llm);
  // This write belongs to the turn: if the turn fails, it is discarded with it.
  auto attempts = std::stoi(t.state().get_or("flaky_attempts", "0")) + 1;
  t.state().set("flaky_attempts", std::to_string(attempts));
  if (upstream_failures_left.fetch_sub(1) > 0)
    throw std::runtime_error("upstream model returned 503");
  co_return "Recovered: attempts recorded in this session = " + std::to_string(attempts) + ".";
}

/// Threads of this process now.
int process_threads() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  return -1;
}

void double_click(Runtime& rt) {
  title("1. Double click on \"Generate\": two calls to one session, both served in order");
  auto start = Clock::now();
  auto first = rt.invoke({.agent = "assistant", .session_id = "user-42", .input = "a trip to Rome"}).value();
  auto second = rt.invoke({.agent = "assistant", .session_id = "user-42", .input = "a trip to Rome"}).value();
  std::printf("%-7s %-9s %-8s %-6s %-10s %s\n", "click", "call id", "queued@", "turn", "outcome",
              "done at");
  std::size_t position = 0;
  if (auto e = second.next_event(); e && e->kind == EventKind::queued)
    position = e->queue_position;
  auto& r1 = first.reply();
  auto t1 = ms_since(start);
  auto& r2 = second.reply();
  auto t2 = ms_since(start);
  std::printf("%-7s %-9llu %-8s %-6llu %-10s %lld ms\n", "first", (unsigned long long)r1.call_id, "-",
              (unsigned long long)r1.turn, r1.ok() ? "completed" : r1.message.c_str(), t1);
  std::printf("%-7s %-9llu %-8zu %-6llu %-10s %lld ms\n", "second", (unsigned long long)r2.call_id,
              position, (unsigned long long)r2.turn, r2.ok() ? "completed" : r2.message.c_str(), t2);
  std::printf("-> no \"agent is already processing a request\": the second click waited its turn.\n");
}

void ten_streams(Runtime& rt) {
  title("2. Ten users streaming at once: every stream sees only its own events");
  constexpr int users = 10;
  std::vector<Call> calls;
  auto start = Clock::now();
  for (int i = 0; i < users; ++i)
    calls.push_back(rt.invoke({.agent = "assistant", .session_id = "user-" + std::to_string(100 + i),
                               .input = "a weekend in city " + std::to_string(i)}).value());
  struct Seen {
    int events = 0;
    int chunks = 0;
    int foreign = 0;
    std::string last;
    long long ms = 0;
  };
  std::vector<Seen> seen(users);
  std::vector<std::thread> readers;
  for (int i = 0; i < users; ++i)
    readers.emplace_back([&, i] {
      while (auto e = calls[i].next_event()) {
        ++seen[i].events;
        seen[i].chunks += e->kind == EventKind::chunk;
        if (e->session_id != calls[i].session_id() || e->call_id != calls[i].id())
          ++seen[i].foreign;
        seen[i].last = std::string{to_string(e->kind)};
      }
      seen[i].ms = ms_since(start);
    });
  for (auto& r : readers)
    r.join();
  std::printf("%-10s %-7s %-7s %-15s %-10s %s\n", "session", "events", "chunks", "foreign events",
              "ended", "at");
  for (int i = 0; i < users; ++i)
    std::printf("%-10s %-7d %-7d %-15d %-10s %lld ms\n", calls[i].session_id().c_str(), seen[i].events,
                seen[i].chunks, seen[i].foreign, seen[i].last.c_str(), seen[i].ms);
  std::printf("-> wall time %lld ms for %d streams, side by side (one alone takes ~300 ms with\n"
              "   the mock model).\n",
              ms_since(start), users);
}

void retry_after_failure(Runtime& rt) {
  title("3. A retry after a failed turn: the failure changed nothing");
  std::printf("%-8s %-10s %-15s %-6s %s\n", "attempt", "outcome", "error", "turn", "message");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto r = rt.ask({.agent = "assistant", .session_id = "user-7", .input = "flaky"});
    std::printf("%-8d %-10s %-15s %-6s %s\n", attempt, r.ok() ? "completed" : "failed",
                r.ok() ? "-" : std::string{to_string(static_cast<errc>(r.error.value()))}.c_str(),
                r.ok() ? std::to_string(r.turn).c_str() : "-",
                r.ok() ? r.output.c_str() : r.message.c_str());
  }
  auto info = rt.describe({"assistant", "user-7"});
  std::printf("-> session user-7: %llu committed turn(s), %zu history entries: the failed turn left\n"
              "   no trace, not even its own attempt counter.\n",
              (unsigned long long)info->turns, info->history_size);
}

void context(Runtime& rt) {
  title("4. A follow-up keeps its context; a new session starts fresh");
  std::printf("%-14s %-26s %s\n", "session", "user said", "assistant answered");
  auto say = [&](const std::string& sid, const std::string& text) {
    auto r = rt.ask({.agent = "assistant", .session_id = sid, .input = text});
    std::printf("%-14s %-26s %s\n", short_id(r.session_id).c_str(), text.c_str(), r.output.c_str());
  };
  say("user-9", "my name is Ada");
  say("user-9", "what is my name?");
  auto one_shot = rt.ask({.agent = "assistant", .input = "what is my name?"});
  std::printf("%-14s %-26s %s\n", short_id(one_shot.session_id).c_str(), "what is my name?",
              one_shot.output.c_str());
  std::printf("-> the empty session id minted %s: a one-shot session with no memory.\n",
              one_shot.session_id.c_str());
}

void expiry() {
  title("5. An idle session expires, and the next call brings it back with its context");
  RuntimeConfig cfg;
  cfg.idle_timeout = 300ms;
  cfg.expiry_interval = 50ms;
  Runtime rt{cfg};
  rt.register_handler("counter", [](Turn& t) {
    auto n = std::stoi(t.state().get_or("n", "0")) + 1;
    t.state().set("n", std::to_string(n));
    return "call #" + std::to_string(n) + " in this session";
  });
  auto start = Clock::now();
  std::printf("%-8s %-28s %-6s %-12s %s\n", "at", "event", "live", "activations", "expirations");
  auto row = [&](const std::string& what) {
    auto s = rt.stats();
    std::printf("%-8s %-28s %-6zu %-12llu %llu\n", (std::to_string(ms_since(start)) + " ms").c_str(),
                what.c_str(), s.live_sessions, (unsigned long long)s.activations,
                (unsigned long long)s.expirations);
  };
  row(rt.ask({.agent = "counter", .session_id = "idle-user", .input = "x"}).output);
  row(rt.ask({.agent = "counter", .session_id = "idle-user", .input = "x"}).output);
  while (rt.stats().expirations == 0)
    std::this_thread::sleep_for(10ms);
  row("expired after 300 ms idle");
  row(rt.ask({.agent = "counter", .session_id = "idle-user", .input = "x"}).output);
  std::printf("-> the actor was freed; the next call recreated it and its context came back\n"
              "   from the session store (in memory here; SQLite survives restarts).\n");
}

void travel_planner(Runtime& rt) {
  title("6. A trip planner: sub-agents in parallel, tools, one conversation id throughout");
  auto start = Clock::now();
  auto call = rt.invoke({.agent = "planner", .session_id = "trip-77", .input = "Rome"}).value();
  std::printf("%-8s %-10s %-12s %-10s %s\n", "at", "agent", "event", "tool", "data");
  while (auto e = call.next_event()) {
    if (e->kind == EventKind::chunk)
      continue;
    auto data = e->data.size() > 60 ? e->data.substr(0, 57) + "..." : e->data;
    std::printf("%-8s %-10s %-12s %-10s %s\n", (std::to_string(ms_since(start)) + " ms").c_str(),
                e->agent.c_str(), std::string{to_string(e->kind)}.c_str(), e->tool.c_str(),
                data.c_str());
    if (e->session_id != "trip-77")
      std::printf("   !! event from another session: %s\n", e->session_id.c_str());
  }
  std::printf("-> %lld ms in all: flight (100 ms tool), hotel (250 ms) and visa (150 ms) ran side by\n"
              "   side, then the itinerary (100 ms); every event carried session trip-77.\n",
              ms_since(start));
  auto follow = rt.ask({.agent = "planner", .session_id = "trip-77", .input = "show me cheaper flights"});
  std::printf("follow-up \"show me cheaper flights\": %s\n", follow.output.c_str());
  auto fresh = rt.ask({.agent = "planner", .session_id = "trip-78", .input = "show me cheaper flights"});
  std::printf("same question in a new conversation:  %s\n", fresh.output.c_str());
}

void thousand_waiting(Runtime& rt) {
  title("7. A thousand users waiting on a model at once: no thread each");
  // A mock model that streams 10 words, one per 50 ms: each turn alone takes 500 ms.
  rt.register_handler("crowd", [](AsyncTurn& t) {
    return demo::stream_words(t, "one two three four five six seven eight nine ten");
  });
  constexpr int users = 1000;
  auto threads_before = process_threads();
  auto start = Clock::now();
  std::vector<Call> calls;
  calls.reserve(users);
  for (int i = 0; i < users; ++i) {
    Request r{.agent = "crowd", .session_id = "crowd-" + std::to_string(i), .input = "go"};
    r.params["ms_per_word"] = "50";
    calls.push_back(rt.invoke(std::move(r)).value());
  }
  // Once the first stream has its first word, every turn is waiting on its timer.
  for (auto e = calls.front().next_event(); e && e->kind != EventKind::chunk;
       e = calls.front().next_event()) {
  }
  auto running = rt.stats().running_turns;
  auto threads_during = process_threads();
  int ok = 0;
  for (auto& c : calls)
    ok += c.reply().ok();
  std::printf("%d of %d turns completed in %lld ms (one alone: 500 ms)\n", ok, users,
              ms_since(start));
  std::printf("while they waited: %zu turns running, %d process threads (%d before)\n", running,
              threads_during, threads_before);
  std::printf("-> a coroutine turn parks on its session while it waits: the session stays busy,\n"
              "   no thread is held.\n");
}

} // namespace

int main() {
  std::unique_ptr<model::ModelClient> client;
  if (auto options = model::ModelOptions::from_env()) {
    try {
      client = std::make_unique<model::ModelClient>(*options);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "agentrt-demo: AGENTRT_LLM_URL: %s\n", e.what());
      return 2;
    }
    llm = client.get();
  }
  RuntimeConfig cfg;
  cfg.blocking_threads = 16;
  Runtime rt{cfg};
  rt.register_handler("assistant", assistant);
  demo::register_travel_agents(rt);
  std::printf("agentrt demo: each session is an actor; calls to it are serialized, sessions are isolated.\n");
  std::printf("the assistant streams from %s\n",
              llm ? ("the model at " + llm->options().url).c_str()
                  : "the built-in mock model (set AGENTRT_LLM_URL for a real one)");
  double_click(rt);
  ten_streams(rt);
  retry_after_failure(rt);
  context(rt);
  expiry();
  travel_planner(rt);
  thousand_waiting(rt);
  auto s = rt.stats();
  std::printf("\nruntime stats: %zu live sessions, %llu turns completed, %llu failed, %llu cancelled, %llu rejected\n",
              s.live_sessions, (unsigned long long)s.turns_completed, (unsigned long long)s.turns_failed,
              (unsigned long long)s.turns_cancelled, (unsigned long long)s.calls_rejected);
  return 0;
}
