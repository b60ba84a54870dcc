#pragma once

// run_with_time_limit: a test body on real threads must not hang the suite. The body runs
// on its own thread; if it has not finished in time, the process prints which test hung and
// exits non-zero (a hung thread cannot be cancelled, so failing the test is not enough).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <string>
#include <thread>

namespace agentrt_test {

template <class F>
void run_with_time_limit(std::chrono::seconds limit, const std::string& what, F&& body) {
  std::packaged_task<void()> task{std::forward<F>(body)};
  auto done = task.get_future();
  std::thread runner{std::move(task)};
  if (done.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "TIME LIMIT: '%s' did not finish within %lld s\n", what.c_str(),
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }
  runner.join();
  done.get(); // rethrows what the body threw (Catch2 assertions included)
}

} // namespace agentrt_test
