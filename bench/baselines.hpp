#pragma once

// The two designs a backend would otherwise write by hand: a mutex per session in a map on a
// thread pool, and a Boost.Asio strand per session. Each turn does agentrt's per-turn work
// (Transcript).

#include "system.hpp"
#include "transcript.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <condition_variable>
#include <deque>
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

  template <class F>
  void for_each(F&& f) {
    std::unique_lock l{mu_};
    for (auto& [key, session] : map_)
      f(*session);
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
    Transcript transcript; // guarded by mu
  };

  std::uint64_t run(const std::string& key) {
    auto& s = sessions_.get(key, [] { return std::make_unique<Session>(); });
    std::lock_guard l{s.mu};
    work_();
    return s.transcript.record(turn_input, turn_output);
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
      rec.complete(index, s.transcript.record(turn_input, turn_output), true);
    });
  }

  std::uint64_t call(const std::string& key) override {
    auto& s = session(key);
    std::promise<std::uint64_t> p;
    auto f = p.get_future();
    boost::asio::post(s.strand, [&] {
      work_();
      p.set_value(s.transcript.record(turn_input, turn_output));
    });
    return f.get();
  }

private:
  struct Session {
    explicit Session(boost::asio::io_context& io) : strand(boost::asio::make_strand(io)) {
      // nop
    }
    boost::asio::strand<boost::asio::io_context::executor_type> strand;
    Transcript transcript; // only touched on the strand
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
