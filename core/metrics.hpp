#pragma once

// Metrics: the runtime's counters, striped so that sessions on different workers do not
// fight over one cache line on every turn. A session writes only to the stripe its key
// hashes to; `snapshot` sums the stripes.
//
// Thread-safety: all members are atomics (relaxed: these are statistics, and the gauges
// only need to be exact once the runtime is quiet).

#include <agentrt/stats.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace agentrt::detail {

struct alignas(64) MetricStripe {
  std::atomic<std::int64_t> queued{0};
  std::atomic<std::int64_t> running{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> rejected{0};
};

/// One unit of a gauge (running turns) held for a scope: counted in at construction,
/// out when released or destroyed, exactly once. Move-only.
class GaugeToken {
public:
  GaugeToken() noexcept = default;
  explicit GaugeToken(std::atomic<std::int64_t>& gauge) noexcept : gauge_(&gauge) {
    gauge_->fetch_add(1, std::memory_order_relaxed);
  }
  GaugeToken(GaugeToken&& other) noexcept : gauge_(std::exchange(other.gauge_, nullptr)) {
    // nop
  }
  GaugeToken& operator=(GaugeToken&& other) noexcept {
    if (this != &other) {
      release();
      gauge_ = std::exchange(other.gauge_, nullptr);
    }
    return *this;
  }
  GaugeToken(const GaugeToken&) = delete;
  GaugeToken& operator=(const GaugeToken&) = delete;
  ~GaugeToken() {
    release();
  }

  void release() noexcept {
    if (auto* g = std::exchange(gauge_, nullptr))
      g->fetch_sub(1, std::memory_order_relaxed);
  }

private:
  std::atomic<std::int64_t>* gauge_ = nullptr;
};

class Metrics {
public:
  static constexpr std::size_t stripe_count = 16;

  MetricStripe& stripe(std::size_t hash) noexcept {
    return stripes_[hash % stripe_count];
  }

  alignas(64) std::atomic<std::int64_t> live{0};
  std::atomic<std::uint64_t> expirations{0};
  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> replays{0};

  RuntimeStats snapshot() const noexcept {
    RuntimeStats s;
    std::int64_t queued = 0;
    std::int64_t running = 0;
    for (auto& st : stripes_) {
      queued += st.queued.load(std::memory_order_relaxed);
      running += st.running.load(std::memory_order_relaxed);
      s.turns_completed += st.completed.load(std::memory_order_relaxed);
      s.turns_failed += st.failed.load(std::memory_order_relaxed);
      s.turns_cancelled += st.cancelled.load(std::memory_order_relaxed);
      s.calls_rejected += st.rejected.load(std::memory_order_relaxed);
    }
    auto non_negative = [](std::int64_t x) { return static_cast<std::size_t>(x < 0 ? 0 : x); };
    s.queued_calls = non_negative(queued);
    s.running_turns = non_negative(running);
    s.live_sessions = non_negative(live.load(std::memory_order_relaxed));
    s.expirations = expirations.load(std::memory_order_relaxed);
    s.calls_replayed = replays.load(std::memory_order_relaxed);
    s.activations = activations.load(std::memory_order_relaxed);
    return s;
  }

private:
  std::array<MetricStripe, stripe_count> stripes_;
};

} // namespace agentrt::detail
