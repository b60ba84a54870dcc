#pragma once

// Helpers for tests that drive a Runtime on real threads.

#include <agentrt/agentrt.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace agentrt_test {

using namespace std::chrono_literals;

/// The name of an agentrt error code ("timeout", "session_busy", ...), for exact checks.
inline std::string code_of(const std::error_code& ec) {
  return std::string{agentrt::to_string(static_cast<agentrt::errc>(ec.value()))};
}

/// A handler that counts its session's turns in state "n" and answers "n=<n>".
inline std::string counter(agentrt::Turn& t) {
  auto n = std::stoi(t.state().get_or("n", "0")) + 1;
  t.state().set("n", std::to_string(n));
  return "n=" + std::to_string(n);
}

/// A gate a blocking handler waits at until the test opens it (no sleeps).
class Gate {
public:
  void open() {
    {
      std::lock_guard g{mu_};
      open_ = true;
    }
    cv_.notify_all();
  }
  /// Waits until open or `stop` is requested; true if opened.
  bool wait(std::stop_token stop) {
    std::unique_lock l{mu_};
    return cv_.wait(l, stop, [&] { return open_; });
  }
  void arrived() {
    {
      std::lock_guard g{mu_};
      ++arrived_;
    }
    cv_.notify_all();
  }
  void wait_arrivals(int n) {
    std::unique_lock l{mu_};
    cv_.wait(l, [&] { return arrived_ >= n; });
  }

private:
  std::mutex mu_;
  std::condition_variable_any cv_; // wakes on stop requests too
  bool open_ = false;
  int arrived_ = 0;
};

/// The whole stream of `call`, up to and including its terminal event.
inline std::vector<agentrt::Event> read_all(agentrt::Call& call) {
  std::vector<agentrt::Event> out;
  while (auto e = call.next_event())
    out.push_back(std::move(*e));
  return out;
}

inline std::vector<agentrt::EventKind> kinds_of(const std::vector<agentrt::Event>& events) {
  std::vector<agentrt::EventKind> out;
  for (auto& e : events)
    out.push_back(e.kind);
  return out;
}

/// Waits (bounded by the test's time limit) until `pred` holds, re-checking every ms.
template <class Pred>
void eventually(Pred pred) {
  while (!pred())
    std::this_thread::sleep_for(1ms);
}

} // namespace agentrt_test
