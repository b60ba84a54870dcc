// The `llm` scenario. N sessions, one turn each, all started at once; each turn waits on a
// simulated model (SimModel) that streams `tokens` tokens, one per `token_ms`, and passes
// every token on to its caller as it comes. The ideal wall time is tokens x token_ms.
//
// Systems:
//   agentrt-coroutine  a coroutine agent: co_await per token, no thread held while waiting
//   agentrt-blocking   a blocking agent on the default pool (16 threads): a thread per turn
//   thread-pool        a fixed pool (--pool, default 1000) running each turn on a thread
//   strand-coroutine   one Asio strand per session and an Asio coroutine per turn, on
//                      `workers` threads
// The two blocking systems hold a thread per waiting turn, so N turns take N / threads
// waves; they run at most 3 waves and their wall time for N is projected from those.
//
// Every system runs in its own forked process, so its threads and memory are its own.
// Each turn checks that it got tokens 1..n in order, and each call that its caller saw n
// chunks; anything else fails the run.

#include "llm.hpp"

#include "llm_run.hpp"
#include "sim_model.hpp"
#include "baselines.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <future>

namespace bench {

namespace {

namespace net = boost::asio;

struct Workload {
  std::size_t sessions;
  int tokens;
  std::chrono::milliseconds token_ms;
  std::size_t workers;
  std::size_t pool; // thread-pool's threads
};

/// Waits for the next token of `stream` on a blocking thread.
int wait_token(SimStream& stream) {
  std::promise<int> p;
  auto f = p.get_future();
  stream.next([&p](int token) { p.set_value(token); });
  return f.get();
}

// -- agentrt ------------------------------------------------------------------------------

agentrt::Task<std::string> coroutine_turn(agentrt::AsyncTurn& t, SimModel* model, int tokens) {
  auto stream = model->open();
  int k = 1;
  for (; k <= tokens; ++k) {
    auto next = [&stream](agentrt::Completion<int> done) {
      stream->next([done](int token) { done(token); });
    };
    auto token = co_await agentrt::wait_for<int>(std::move(next));
    if (!token || *token != k)
      break;
    t.emit("t" + std::to_string(k));
  }
  co_return std::to_string(k - 1);
}

std::string blocking_turn(agentrt::Turn& t, SimModel* model, int tokens) {
  auto stream = model->open();
  int k = 1;
  for (; k <= tokens && wait_token(*stream) == k; ++k)
    t.emit("t" + std::to_string(k));
  return std::to_string(k - 1);
}

class AgentrtLlm {
public:
  AgentrtLlm(bool coroutine, SimModel& model, const Workload& w) : rt_(config(w)) {
    auto* m = &model;
    int n = w.tokens;
    if (coroutine)
      rt_.register_handler("llm", [m, n](agentrt::AsyncTurn& t) { return coroutine_turn(t, m, n); });
    else
      rt_.register_handler("llm", [m, n](agentrt::Turn& t) { return blocking_turn(t, m, n); },
                           agentrt::AgentOptions{.blocking = true});
  }

  void submit(std::size_t i, const std::string& key, Run& run) {
    agentrt::Request r;
    r.agent = "llm";
    r.session_id = key;
    r.on_event = [&run, i](const agentrt::Event& e) {
      if (e.kind == agentrt::EventKind::chunk)
        run.chunk(i);
    };
    rt_.invoke(std::move(r)).value().on_done([&run, i](const agentrt::Reply& reply) {
      run.finish(i, reply.ok() && reply.output == std::to_string(run.tokens()));
    });
  }

private:
  static agentrt::RuntimeConfig config(const Workload& w) {
    agentrt::RuntimeConfig c;
    c.worker_threads = w.workers;
    c.max_sessions = std::nullopt;
    c.default_timeout = std::chrono::hours(1);
    return c; // blocking_threads: the default
  }

  agentrt::Runtime rt_;
};

// -- baseline: a fixed thread pool, a turn holds a thread ------------------------------------

class ThreadPoolLlm {
public:
  ThreadPoolLlm(SimModel& model, const Workload& w) : model_(model), pool_(w.pool) {
    // nop
  }

  void submit(std::size_t i, const std::string& key, Run& run) {
    pool_.post([this, i, key, &run] {
      auto& s = sessions_.get(key, [] { return std::make_unique<Session>(); });
      std::lock_guard l{s.mu};
      auto stream = model_.open();
      int k = 1;
      for (; k <= run.tokens() && wait_token(*stream) == k; ++k)
        run.chunk(i);
      run.finish(i, k - 1 == run.tokens());
    });
  }

private:
  struct Session {
    std::mutex mu;
  };

  SimModel& model_;
  SessionMap<Session> sessions_;
  ThreadPool pool_;
};

// -- baseline: an Asio strand per session, an Asio coroutine per turn -----------------------

/// Awaits the next token of `stream` from an Asio coroutine, resuming on its executor.
template <class Token>
auto async_next_token(SimStream& stream, Token&& token) {
  return net::async_initiate<Token, void(int)>(
    [&stream](auto handler) {
      auto ex = net::get_associated_executor(handler);
      auto h = std::make_shared<decltype(handler)>(std::move(handler));
      stream.next([h, ex](int t) { net::post(ex, [h, t] { std::move (*h)(t); }); });
    },
    token);
}

net::awaitable<void> strand_turn(SimModel& model, Run& run, std::size_t i) {
  auto stream = model.open(); // when the turn runs, as in the other systems
  int k = 1;
  for (; k <= run.tokens(); ++k) {
    int token = co_await async_next_token(*stream, net::use_awaitable);
    if (token != k)
      break;
    run.chunk(i);
  }
  run.finish(i, k - 1 == run.tokens());
}

class StrandLlm {
public:
  StrandLlm(SimModel& model, const Workload& w)
    : model_(model), guard_(net::make_work_guard(io_)) {
    for (std::size_t t = 0; t < w.workers; ++t)
      threads_.emplace_back([this] { io_.run(); });
  }

  ~StrandLlm() {
    guard_.reset();
    for (auto& t : threads_)
      t.join();
  }

  void submit(std::size_t i, const std::string& key, Run& run) {
    auto& s = sessions_.get(key, [this] { return std::make_unique<Session>(io_); });
    net::co_spawn(s.strand, strand_turn(model_, run, i), net::detached);
  }

private:
  struct Session {
    explicit Session(net::io_context& io) : strand(net::make_strand(io)) {
      // nop
    }
    net::strand<net::io_context::executor_type> strand;
  };

  SimModel& model_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  SessionMap<Session> sessions_;
  std::vector<std::thread> threads_;
};

// -- one system in its own process ----------------------------------------------------------

/// How many sessions a system that holds a thread per waiting turn runs: 3 waves at most.
std::size_t sessions_run(const std::string& system, const Workload& w) {
  std::size_t threads = system == "agentrt-blocking" ? agentrt::RuntimeConfig{}.blocking_threads
                        : system == "thread-pool"    ? w.pool
                                                     : 0;
  return threads == 0 ? w.sessions : std::min(w.sessions, 3 * threads);
}

std::size_t threads_per_wave(const std::string& system, const Workload& w) {
  return system == "agentrt-blocking" ? agentrt::RuntimeConfig{}.blocking_threads
         : system == "thread-pool"    ? w.pool
                                      : w.sessions;
}

template <class System>
nlohmann::json measure(System& sys, Run& run, std::size_t n, const std::vector<std::string>& keys,
                       const Sampler& sampler, std::size_t threads0, std::size_t rss0) {
  return measure_run(run, n, keys, sampler, threads0, rss0,
                     [&](std::size_t i, const std::string& key) { sys.submit(i, key, run); });
}

nlohmann::json run_system(const std::string& system, const Workload& w) {
  auto n = sessions_run(system, w);
  std::vector<std::string> keys(n);
  for (std::size_t i = 0; i < n; ++i)
    keys[i] = "s" + std::to_string(i);
  Run run{n, w.tokens};
  SimModel model{w.tokens, w.token_ms};
  Sampler sampler;
  malloc_trim(0);
  auto threads0 = threads_now();
  auto rss0 = rss_bytes();
  nlohmann::json out;
  if (system == "agentrt-coroutine" || system == "agentrt-blocking") {
    AgentrtLlm sys{system == "agentrt-coroutine", model, w};
    out = measure(sys, run, n, keys, sampler, threads0, rss0);
  } else if (system == "thread-pool") {
    ThreadPoolLlm sys{model, w};
    out = measure(sys, run, n, keys, sampler, threads0, rss0);
  } else {
    StrandLlm sys{model, w};
    out = measure(sys, run, n, keys, sampler, threads0, rss0);
  }
  return out;
}

} // namespace

std::vector<Result> llm(const Options& o) {
  Workload w{o.pick(o.sessions, std::size_t{10'000}, std::size_t{50}),
             static_cast<int>(o.pick(o.tokens, std::int64_t{20}, std::int64_t{3})),
             std::chrono::milliseconds(o.pick(o.token_ms, std::int64_t{100}, std::int64_t{5})),
             o.workers ? o.workers : cores(), o.pick(o.pool, std::size_t{1000}, std::size_t{50})};
  double ideal = w.tokens * w.token_ms.count() / 1000.0;
  std::vector<std::string> systems{"agentrt-coroutine", "agentrt-blocking"};
  if (o.baselines) {
    systems.push_back("thread-pool");
    systems.push_back("strand-coroutine");
  }
  nlohmann::json workload{{"sessions", w.sessions},
                          {"tokens", w.tokens},
                          {"token_ms", w.token_ms.count()},
                          {"workers", w.workers},
                          {"thread_pool_threads", w.pool},
                          {"agentrt_blocking_threads", agentrt::RuntimeConfig{}.blocking_threads}};
  std::vector<Result> out;
  for (auto& system : systems) {
    auto m = in_child([&] { return run_system(system, w); });
    Result r;
    r.scenario = "llm";
    r.system = system;
    r.calls = w.sessions;
    r.workload = workload;
    if (m.is_discarded() || m.empty()) {
      r.failed_calls = w.sessions;
      out.push_back(r);
      continue;
    }
    std::size_t ran = m["sessions_run"];
    double wall = m["wall_s"];
    auto per_wave = threads_per_wave(system, w);
    auto waves = [&](std::size_t sessions) {
      return static_cast<double>((sessions + per_wave - 1) / per_wave);
    };
    double projected = wall / waves(ran) * waves(w.sessions);
    r.seconds = projected;
    r.per_second = w.sessions / projected;
    r.failed_calls = m["failed"];
    r.extra = {{"sessions_run", ran},
               {"measured_wall_s", wall},
               {"projected", ran < w.sessions},
               {"wall_s", projected},
               {"ideal_s", ideal},
               {"vs_ideal", projected / ideal},
               {"threads", m["threads"]},
               {"rss_per_turn", m["rss_per_turn"]},
               {"ttft_p50_ms", m["ttft_p50_ms"]},
               {"ttft_p99_ms", m["ttft_p99_ms"]}};
    out.push_back(r);
  }
  return out;
}

} // namespace bench
