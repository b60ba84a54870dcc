#pragma once

// SimModel: a simulated LLM for the `llm` scenario. Each stream it opens produces tokens
// 1..n, one every `interval`, on the model's own thread: a timing wheel of 1 ms slots
// (one thread serves any number of streams, as one I/O thread serves a real client's
// sockets). A consumer asks for the next token with a callback; a token that is already
// there is handed over at once, on the consumer's thread.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bench {

class SimStream {
public:
  explicit SimStream(int tokens) : tokens_(tokens) {
    // nop
  }

  /// Calls `on_token` with the next token number (1, 2, ...) once it is produced: at once
  /// (here) if it is already there, else on the model's thread.
  void next(std::function<void(int)> on_token) {
    std::unique_lock l{mu_};
    if (consumed_ < produced_) {
      int token = ++consumed_;
      l.unlock();
      on_token(token);
      return;
    }
    waiter_ = std::move(on_token);
  }

  /// The model produced the next token (model thread). True while more will follow.
  bool produce() {
    std::unique_lock l{mu_};
    ++produced_;
    if (waiter_) {
      int token = ++consumed_;
      auto w = std::move(waiter_);
      waiter_ = nullptr;
      l.unlock();
      w(token);
      l.lock();
    }
    return produced_ < tokens_;
  }

private:
  const int tokens_;
  std::mutex mu_;
  int produced_ = 0;
  int consumed_ = 0;
  std::function<void(int)> waiter_;
};

class SimModel {
public:
  /// `interval` from 1 ms to 16 s.
  SimModel(int tokens, std::chrono::milliseconds interval)
    : tokens_(tokens), interval_ms_(std::clamp<std::int64_t>(interval.count(), 1, slots - 1)),
      epoch_(Clock::now()), wheel_(slots) {
    thread_ = std::thread{[this] { run(); }};
  }

  ~SimModel() {
    {
      std::lock_guard l{mu_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  /// Opens a stream whose first token comes one interval from now.
  std::shared_ptr<SimStream> open() {
    auto s = std::make_shared<SimStream>(tokens_);
    std::lock_guard l{mu_};
    // After the slot the wheel is working on, so no token waits a whole turn of the wheel.
    auto due = std::max(now_tick() + interval_ms_, next_tick_ + 1);
    wheel_[due % slots].push_back(s);
    return s;
  }

private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::int64_t slots = 1 << 14; // 16 s of 1 ms slots: intervals must be shorter

  std::int64_t now_tick() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - epoch_).count();
  }

  void run() {
    std::unique_lock l{mu_};
    while (!stop_) {
      cv_.wait_until(l, epoch_ + std::chrono::milliseconds(next_tick_), [&] { return stop_; });
      if (stop_)
        break;
      for (auto last = now_tick(); next_tick_ <= last; ++next_tick_) {
        auto due = std::move(wheel_[next_tick_ % slots]);
        wheel_[next_tick_ % slots].clear();
        l.unlock();
        std::vector<std::shared_ptr<SimStream>> again;
        for (auto& s : due)
          if (s->produce())
            again.push_back(std::move(s));
        l.lock();
        for (auto& s : again)
          wheel_[(next_tick_ + interval_ms_) % slots].push_back(std::move(s));
      }
    }
  }

  const int tokens_;
  const std::int64_t interval_ms_;
  const Clock::time_point epoch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<std::shared_ptr<SimStream>>> wheel_; // guarded by mu_
  std::int64_t next_tick_ = 0;                                  // guarded by mu_
  bool stop_ = false;                                           // guarded by mu_
  std::thread thread_;
};

} // namespace bench
