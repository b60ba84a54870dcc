#pragma once

// agentrt through its public API, on one node or several (sessions split by a consistent
// hash, as the proxy splits them).

#include "system.hpp"
#include "transcript.hpp"

#include <agentrt/agentrt.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bench {

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
  /// The system's name when not the default one.
  std::string name;
  /// settle() waits until every session has expired (passivated): for a short idle_timeout.
  bool settle_passivated = false;
};

class AgentrtSystem final : public System {
public:
  AgentrtSystem(Work work, AgentrtOptions o)
    : rt_(config(o)), durable_(!o.store_path.empty()), postgres_(!o.postgres.conninfo.empty()),
      request_ids_(o.request_ids), resumable_(o.resumable), name_(o.name),
      settle_passivated_(o.settle_passivated) {
    rt_.register_handler(
      "bench",
      [work](agentrt::Turn&) {
        work();
        return turn_output;
      },
      agentrt::AgentOptions{.blocking = o.blocking, .max_queue_depth = 1 << 20});
  }

  const char* name() const override {
    if (!name_.empty())
      return name_.c_str();
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
    r.input = turn_input;
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
    r.input = turn_input;
    auto reply = rt_.ask(std::move(r));
    return reply.ok() ? reply.turn : 0;
  }

  agentrt::Runtime& runtime() {
    return rt_;
  }

  /// With settle_passivated, waits until no session is live (all passivated to the store).
  bool settle(std::chrono::milliseconds limit) override {
    if (!settle_passivated_)
      return true;
    auto until = Clock::now() + limit;
    while (rt_.stats().live_sessions > 0) {
      if (Clock::now() > until)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
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
  std::string name_;
  bool settle_passivated_;
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

} // namespace bench
