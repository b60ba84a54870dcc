#pragma once

// Histogram: a fixed-bucket, lock-free latency histogram in the Prometheus shape.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace agentrt::server::detail {

class Histogram {
public:
  /// Upper bounds in seconds; the last bucket (+Inf) is implicit.
  static constexpr std::array<double, 14> bounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                 0.5,   1,     2.5,  5,     10,   30,  60};

  void observe(std::chrono::microseconds d) noexcept;

  /// Appends `name_bucket`, `name_sum` and `name_count` lines, with HELP and TYPE.
  void render(std::string& out, std::string_view name, std::string_view help) const;

private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

} // namespace agentrt::server::detail
