#include "metrics/histogram.hpp"

#include <cstdio>

namespace agentrt::server::detail {

void Histogram::observe(std::chrono::microseconds d) noexcept {
  double s = static_cast<double>(d.count()) / 1e6;
  std::size_t i = 0;
  while (i < bounds.size() && s > bounds[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()),
                    std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  std::string n{name};
  out += "# HELP " + n + " " + std::string{help} + "\n# TYPE " + n + " histogram\n";
  std::uint64_t cumulative = 0;
  char line[160];
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    if (i < bounds.size())
      std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", n.c_str(), bounds[i],
                    static_cast<unsigned long long>(cumulative));
    else
      std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n", n.c_str(),
                    static_cast<unsigned long long>(cumulative));
    out += line;
  }
  std::snprintf(line, sizeof line, "%s_sum %.6f\n%s_count %llu\n", n.c_str(),
                static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6, n.c_str(),
                static_cast<unsigned long long>(cumulative));
  out += line;
}

} // namespace agentrt::server::detail
