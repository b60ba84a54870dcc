#pragma once

// What the `llm` scenarios share: per-call records of a run of turns that stream tokens,
// a sampler of the process's peak threads and RSS, and running a system in a child
// process so its threads and memory are its own.

#include "harness.hpp"
#include "system.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

/// Per-call records, each written by whichever thread runs that call at the time.
class Run {
public:
  /// `exact_chunks`: a call must see exactly `tokens` chunks (false where a client may pass
  /// several tokens on as one chunk).
  explicit Run(std::size_t n, int tokens, bool exact_chunks = true)
    : tokens_(tokens), exact_chunks_(exact_chunks), submitted_(n), first_(n), done_(n), chunks_(n), ok_(n) {
    // nop
  }

  void submitted(std::size_t i) {
    submitted_[i] = now_ns();
  }

  /// The caller received a token of call `i`.
  void chunk(std::size_t i) {
    if (chunks_[i]++ == 0)
      first_[i] = now_ns();
  }

  /// Call `i` ended; `in_order`: its turn saw tokens 1..n in order.
  void finish(std::size_t i, bool in_order) {
    done_[i] = now_ns();
    ok_[i] = in_order && chunks_[i] > 0 && (!exact_chunks_ || chunks_[i] == tokens_);
    finished_.fetch_add(1, std::memory_order_release);
  }

  void wait_all() const {
    while (finished_.load(std::memory_order_acquire) < ok_.size())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  int tokens() const {
    return tokens_;
  }
  std::size_t failed() const {
    return static_cast<std::size_t>(std::count(ok_.begin(), ok_.end(), 0));
  }
  double wall_s() const {
    auto first = *std::min_element(submitted_.begin(), submitted_.end());
    auto last = *std::max_element(done_.begin(), done_.end());
    return (last - first) / 1e9;
  }
  /// Time to first token, in ms, at quantile q, over the calls that got one.
  double ttft_ms(double q) const {
    std::vector<std::int64_t> t;
    for (std::size_t i = 0; i < first_.size(); ++i)
      if (chunks_[i] > 0)
        t.push_back(first_[i] - submitted_[i]);
    if (t.empty())
      return 0;
    std::sort(t.begin(), t.end());
    return t[std::min(t.size() - 1, static_cast<std::size_t>(q * t.size()))] / 1e6;
  }

private:
  const int tokens_;
  const bool exact_chunks_;
  std::vector<std::int64_t> submitted_, first_, done_;
  std::vector<int> chunks_;
  std::vector<char> ok_;
  std::atomic<std::size_t> finished_{0};
};

inline std::size_t threads_now() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0)
      return std::stoul(line.substr(8));
  return 0;
}

/// Peak threads and RSS of this process, sampled every 5 ms until stopped.
class Sampler {
public:
  Sampler() : thread_([this] { run(); }) {
    // nop
  }
  ~Sampler() {
    stop_ = true;
    thread_.join();
  }
  std::size_t peak_threads() const { return threads_; }
  std::size_t peak_rss() const { return rss_; }

private:
  void run() {
    while (!stop_) {
      threads_ = std::max(threads_.load(), threads_now());
      rss_ = std::max(rss_.load(), rss_bytes());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> threads_{0};
  std::atomic<std::size_t> rss_{0};
  std::thread thread_;
};

/// What a run of `n` turns measured, for the parent process.
template <class Submit>
nlohmann::json measure_run(Run& run, std::size_t n, const std::vector<std::string>& keys,
                           const Sampler& sampler, std::size_t threads0, std::size_t rss0,
                           Submit&& submit) {
  for (std::size_t i = 0; i < n; ++i) {
    run.submitted(i);
    submit(i, keys[i]);
  }
  run.wait_all();
  auto rss = sampler.peak_rss();
  return {{"wall_s", run.wall_s()},
          {"threads", sampler.peak_threads() - threads0},
          {"rss_per_turn", static_cast<double>(rss - std::min(rss, rss0)) / n},
          {"ttft_p50_ms", run.ttft_ms(0.50)},
          {"ttft_p99_ms", run.ttft_ms(0.99)},
          {"failed", run.failed()},
          {"sessions_run", n}};
}

/// Runs `body` in a child process and returns what it measured (empty on a crash).
inline nlohmann::json in_child(const std::function<nlohmann::json()>& body) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("agentrt-bench: pipe");
    std::exit(1);
  }
  std::fflush(stdout);
  auto pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto text = body().dump();
    auto written = write(fds[1], text.data(), text.size());
    _exit(written == static_cast<ssize_t>(text.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t got; (got = read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (status != 0 || text.empty())
    return {};
  return nlohmann::json::parse(text, nullptr, false);
}

} // namespace bench
