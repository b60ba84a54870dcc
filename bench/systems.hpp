#pragma once

// The systems the benchmark compares, behind one interface: agentrt through its public API,
// and the two designs a backend would otherwise write by hand. All of them give the same
// guarantee (one call at a time per session) and report each call's turn number, so the
// harness checks every one of them the same way.

#include <agentrt/agentrt.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <algorithm>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
    .count();
}

/// What one turn costs: busy CPU work, then a blocking wait (an LLM or network call).
struct Work {
  std::int64_t spin_ns = 0;
  std::int64_t sleep_ms = 0;

  void operator()() const {
    if (spin_ns > 0) {
      auto until = now_ns() + spin_ns;
      while (now_ns() < until) {
      }
    }
    if (sleep_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
};

/// Per-call results of one run, written by whichever thread completes the call.
///
/// The outstanding-call window has hysteresis: a caller that finds it full sleeps until a
/// quarter of it has drained, so completions wake a caller once per `window / 4` calls,
/// not once per call. (A per-call semaphore put a futex wake on every completion, inside
/// the serial section of every system alike, and a host does not block per call either.)
class Recorder {
public:
  Recorder(std::size_t calls, std::ptrdiff_t window)
    : submitted_(calls), latency_(calls), turn_(calls), ok_(calls), window_(window),
      resume_at_(window - std::max<std::ptrdiff_t>(1, window / 4)) {
    // resume_at_ < window_: a sleeping caller is always woken by some completion.
    // nop
  }

  /// Blocks while `window` calls are outstanding, then stamps call `i` as submitted. A
  /// caller is admitted only below the window (so sleepers are never counted) and, once
  /// asleep, waits until the window has drained to `resume_at_`.
  void start(std::size_t i) {
    auto cur = outstanding_.load(std::memory_order_acquire);
    for (;;) {
      if (cur < window_) {
        if (outstanding_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel))
          break;
        continue;
      }
      std::unique_lock l{mu_};
      ++sleepers_;
      cv_.wait(l, [&] { return outstanding_.load(std::memory_order_acquire) <= resume_at_; });
      --sleepers_;
      cur = outstanding_.load(std::memory_order_acquire);
    }
    submitted_[i] = now_ns();
  }

  void complete(std::size_t i, std::uint64_t turn, bool ok) {
    latency_[i] = now_ns() - submitted_[i];
    turn_[i] = turn;
    ok_[i] = ok;
    // Counts go down one at a time, so a drain always passes `resume_at_` exactly.
    auto left = outstanding_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (left == resume_at_ || left == 0) {
      std::lock_guard l{mu_};
      if (sleepers_ > 0)
        cv_.notify_all();
    }
    // Last: once every call is counted the Recorder may be destroyed.
    done_.fetch_add(1, std::memory_order_release);
  }

  /// Waits for all `n` calls.
  void wait_all(std::size_t n) {
    while (done_.load(std::memory_order_acquire) < n)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }

  const std::vector<std::int64_t>& latency() const { return latency_; }
  const std::vector<std::uint64_t>& turns() const { return turn_; }
  const std::vector<char>& ok() const { return ok_; }

private:
  std::vector<std::int64_t> submitted_;
  std::vector<std::int64_t> latency_;
  std::vector<std::uint64_t> turn_;
  std::vector<char> ok_;
  const std::ptrdiff_t window_;
  const std::ptrdiff_t resume_at_;
  std::atomic<std::ptrdiff_t> outstanding_{0};
  std::atomic<std::size_t> done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int sleepers_ = 0; // guarded by mu_
};

class System {
public:
  virtual ~System() = default;
  virtual const char* name() const = 0;
  /// Starts call `index` on session `key`; completes it through `rec` from any thread.
  virtual void submit(const std::string& key, Recorder& rec, std::size_t index) = 0;
  /// One blocking call; returns its turn number (0 on failure).
  virtual std::uint64_t call(const std::string& key) = 0;
  /// Whether one caller's calls to one session run in the order they were made.
  virtual bool keeps_caller_order() const {
    return true;
  }
};

// -- agentrt -----------------------------------------------------------------------------

struct AgentrtOptions {
  std::size_t workers = 0;
  agentrt::SchedulerPolicy scheduler = agentrt::SchedulerPolicy::sharing;
  std::size_t blocking_threads = 16;
  bool blocking = false;
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(15);
  std::chrono::milliseconds expiry_interval = std::chrono::seconds(1);
  /// A SQLite file for a durable (write-through) store; empty: the in-memory store.
  std::string store_path;
  /// A PostgreSQL store shared by nodes (when conninfo is set; wins over store_path).
  agentrt::PostgresOptions postgres;
  /// Every call carries a request id of its own (what request ids cost a call).
  bool request_ids = false;
  /// Every call is resumable: it keeps its events, its session keeps it (what that costs).
  bool resumable = false;
};

class AgentrtSystem final : public System {
public:
  AgentrtSystem(Work work, AgentrtOptions o)
    : rt_(config(o)), durable_(!o.store_path.empty()), postgres_(!o.postgres.conninfo.empty()),
      request_ids_(o.request_ids), resumable_(o.resumable) {
    rt_.register_handler(
      "bench",
      [work](agentrt::Turn&) {
        work();
        return std::string{};
      },
      agentrt::AgentOptions{.blocking = o.blocking, .max_queue_depth = 1 << 20});
  }

  const char* name() const override {
    return postgres_      ? "agentrt+postgres"
           : durable_     ? "agentrt+sqlite"
           : request_ids_ ? "agentrt+request-ids"
           : resumable_    ? "agentrt+resumable"
                           : "agentrt";
  }

  void submit(const std::string& key, Recorder& rec, std::size_t index) override {
    agentrt::Request r;
    r.agent = "bench";
    r.session_id = key;
    r.resumable = resumable_;
    if (request_ids_) // unique across runs on this system (warm-up and measured)
      r.request_id = "r" + std::to_string(next_request_.fetch_add(1, std::memory_order_relaxed));
    auto call = rt_.invoke(std::move(r)).value();
    call.on_done([&rec, index](const agentrt::Reply& reply) {
      rec.complete(index, reply.turn, reply.ok());
    });
  }

  std::uint64_t call(const std::string& key) override {
    agentrt::Request r;
    r.agent = "bench";
    r.session_id = key;
    auto reply = rt_.ask(std::move(r));
    return reply.ok() ? reply.turn : 0;
  }

  agentrt::Runtime& runtime() {
    return rt_;
  }

private:
  static agentrt::RuntimeConfig config(const AgentrtOptions& o) {
    agentrt::RuntimeConfig c;
    c.worker_threads = o.workers;
    c.scheduler = o.scheduler;
    c.blocking_threads = o.blocking_threads;
    c.max_sessions = std::nullopt;
    c.idle_timeout = o.idle_timeout;
    c.expiry_interval = o.expiry_interval;
    c.store_path = o.store_path;
    c.postgres = o.postgres;
    return c;
  }

  agentrt::Runtime rt_;
  bool durable_;
  bool postgres_;
  bool request_ids_;
  bool resumable_;
  std::atomic<std::uint64_t> next_request_{0};
};

// -- agentrt on several nodes: sessions split by a consistent hash, as the proxy does -------

/// Several Runtimes (nodes) in one process, each call sent to its session's node by a
/// consistent-hash ring of the session id: what HAProxy's `hash-type consistent` does in
/// front of real nodes (deploy/haproxy), without the network. Each node is its own
/// AgentrtSystem, so each has its own store (and, with PostgreSQL, its own node name).
class ShardedSystem final : public System {
public:
  ShardedSystem(std::string name, std::vector<std::unique_ptr<AgentrtSystem>> nodes)
    : name_(std::move(name)), nodes_(std::move(nodes)) {
    // Many points per node: with one each, three nodes would split the ids very unevenly.
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      for (int v = 0; v < 160; ++v)
        ring_.emplace_back(hash("node" + std::to_string(n) + "#" + std::to_string(v)), n);
    std::sort(ring_.begin(), ring_.end());
  }

  const char* name() const override {
    return name_.c_str();
  }

  void submit(const std::string& key, Recorder& rec, std::size_t index) override {
    node(key).submit(key, rec, index);
  }

  std::uint64_t call(const std::string& key) override {
    return node(key).call(key);
  }

  /// The node `key` goes to: the first ring point at or after the key's hash.
  std::size_t node_of(const std::string& key) const {
    auto h = hash(key);
    auto i = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, std::size_t{0}));
    return (i == ring_.end() ? ring_.front() : *i).second;
  }

private:
  /// FNV-1a: stable across runs and builds (std::hash need not be).
  static std::uint64_t hash(const std::string& s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s)
      h = (h ^ c) * 1099511628211ull;
    return h;
  }

  AgentrtSystem& node(const std::string& key) {
    return *nodes_[node_of(key)];
  }

  std::string name_;
  std::vector<std::unique_ptr<AgentrtSystem>> nodes_;
  std::vector<std::pair<std::uint64_t, std::size_t>> ring_;
};

// -- baseline: a mutex per session in a map, calls on a fixed thread pool ------------------

class ThreadPool {
public:
  explicit ThreadPool(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      threads_.emplace_back([this] { work(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard g{mu_};
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  void post(std::function<void()> job) {
    {
      std::lock_guard g{mu_};
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

private:
  void work() {
    std::unique_lock l{mu_};
    for (;;) {
      cv_.wait(l, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty())
        return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      job();
      l.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

/// Finds or creates a session in a map guarded by a shared_mutex.
template <class Session>
class SessionMap {
public:
  template <class Make>
  Session& get(const std::string& key, Make&& make) {
    {
      std::shared_lock l{mu_};
      if (auto i = map_.find(key); i != map_.end())
        return *i->second;
    }
    std::unique_lock l{mu_};
    auto& slot = map_[key];
    if (!slot)
      slot = make();
    return *slot;
  }

private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Session>> map_;
};

class MutexMapSystem final : public System {
public:
  MutexMapSystem(Work work, std::size_t threads) : work_(work), pool_(threads) {
    // nop
  }

  const char* name() const override {
    return "mutex-map";
  }

  /// Two pool threads can take one caller's calls and lock the session in either order.
  bool keeps_caller_order() const override {
    return false;
  }

  void submit(const std::string& key, Recorder& rec, std::size_t index) override {
    pool_.post([this, key, &rec, index] { rec.complete(index, run(key), true); });
  }

  std::uint64_t call(const std::string& key) override {
    std::promise<std::uint64_t> p;
    auto f = p.get_future();
    pool_.post([&] { p.set_value(run(key)); });
    return f.get();
  }

private:
  struct Session {
    std::mutex mu;
    std::uint64_t turns = 0;
  };

  std::uint64_t run(const std::string& key) {
    auto& s = sessions_.get(key, [] { return std::make_unique<Session>(); });
    std::lock_guard l{s.mu};
    work_();
    return ++s.turns;
  }

  Work work_;
  SessionMap<Session> sessions_;
  ThreadPool pool_;
};

// -- baseline: one Boost.Asio strand per session on an io_context with N threads ------------

class StrandSystem final : public System {
public:
  StrandSystem(Work work, std::size_t threads)
    : work_(work), guard_(boost::asio::make_work_guard(io_)) {
    for (std::size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { io_.run(); });
  }

  ~StrandSystem() override {
    guard_.reset();
    for (auto& t : threads_)
      t.join();
  }

  const char* name() const override {
    return "strand";
  }

  void submit(const std::string& key, Recorder& rec, std::size_t index) override {
    auto& s = session(key);
    boost::asio::post(s.strand, [this, &s, &rec, index] {
      work_();
      rec.complete(index, ++s.turns, true);
    });
  }

  std::uint64_t call(const std::string& key) override {
    auto& s = session(key);
    std::promise<std::uint64_t> p;
    auto f = p.get_future();
    boost::asio::post(s.strand, [&] {
      work_();
      p.set_value(++s.turns);
    });
    return f.get();
  }

private:
  struct Session {
    explicit Session(boost::asio::io_context& io) : strand(boost::asio::make_strand(io)) {
      // nop
    }
    boost::asio::strand<boost::asio::io_context::executor_type> strand;
    std::uint64_t turns = 0; // only touched on the strand
  };

  Session& session(const std::string& key) {
    return sessions_.get(key, [this] { return std::make_unique<Session>(io_); });
  }

  Work work_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  SessionMap<Session> sessions_;
  std::vector<std::thread> threads_;
};

} // namespace bench
