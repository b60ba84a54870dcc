#include "metrics/metrics.hpp"

#include <agentrt/reply.hpp>
#include <agentrt/stats.hpp>

#include <algorithm>

namespace agentrt::server::detail {

void Metrics::request_done(std::string_view route, unsigned status) {
  std::lock_guard guard{mu_};
  auto key = std::make_pair(std::string{route}, status);
  ++requests_[key];
}

void Metrics::call_done(const Reply& reply) noexcept {
  queue_wait_.observe(reply.queued_for);
  if (reply.ran_for.count() > 0)
    turn_time_.observe(reply.ran_for);
}

namespace {

void metric(std::string& out, std::string_view name, std::string_view type,
            std::string_view help, std::uint64_t value) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

} // namespace

std::string Metrics::render(const RuntimeStats& s, bool draining) const {
  std::string out;
  out.reserve(8192);
  metric(out, "agentrt_live_sessions", "gauge", "Sessions with a live actor.", s.live_sessions);
  metric(out, "agentrt_queued_calls", "gauge", "Calls waiting in session queues.", s.queued_calls);
  metric(out, "agentrt_running_turns", "gauge", "Turns whose handler runs (or is suspended).",
         s.running_turns);
  metric(out, "agentrt_turns_completed_total", "counter", "Turns committed.", s.turns_completed);
  metric(out, "agentrt_turns_failed_total", "counter", "Turns that failed.", s.turns_failed);
  metric(out, "agentrt_turns_cancelled_total", "counter",
         "Calls cancelled, interrupted, rolled back, timed out or ended by close or shutdown.",
         s.turns_cancelled);
  metric(out, "agentrt_calls_rejected_total", "counter",
         "Calls refused before a session accepted them.", s.calls_rejected);
  metric(out, "agentrt_calls_replayed_total", "counter",
         "Calls answered from a request id seen before, without a turn.", s.calls_replayed);
  metric(out, "agentrt_expirations_total", "counter", "Sessions ended for idleness, age or the cap.",
         s.expirations);
  metric(out, "agentrt_activations_total", "counter", "Sessions created.", s.activations);
  metric(out, "agentrt_http_open_connections", "gauge", "Open HTTP connections.",
         static_cast<std::uint64_t>(std::max<std::int64_t>(0, connections_.load())));
  metric(out, "agentrt_http_open_streams", "gauge", "Open event streams.",
         static_cast<std::uint64_t>(std::max<std::int64_t>(0, streams_.load())));
  metric(out, "agentrt_http_draining", "gauge", "1 while the server drains.", draining ? 1 : 0);
  turn_time_.render(out, "agentrt_turn_duration_seconds",
                    "Handler time of the turns of calls made through this server.");
  queue_wait_.render(out, "agentrt_queue_wait_seconds",
                     "Time calls made through this server waited in their session's queue.");
  out += "# HELP agentrt_http_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE agentrt_http_requests_total counter\n";
  std::lock_guard guard{mu_};
  for (auto& [key, n] : requests_)
    out += "agentrt_http_requests_total{route=\"" + key.first + "\",code=\""
           + std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  return out;
}

} // namespace agentrt::server::detail
