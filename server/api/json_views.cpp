#include "api/json_views.hpp"

#include "api/errors.hpp"
#include "server_context.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace agentrt::server::detail {

namespace {

using nlohmann::json;

/// JSON text; invalid UTF-8 in agent output is replaced, never a throw.
std::string text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

long long epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

} // namespace

std::string reply_json(const ServerContext& ctx, const Reply& r) {
  json j{{"session_id", r.session_id},
         {"call_id", r.call_id},
         {"agent", r.agent},
         {"turn", r.turn},
         {"queued_for_us", r.queued_for.count()},
         {"ran_for_us", r.ran_for.count()}};
  if (r.replayed)
    j["replayed"] = true;
  if (r.ok() || !r.output.empty())
    j["output"] = r.output;
  if (!r.ok())
    j["error"] = {{"code", code_name(r.error)},
                  {"message", client_message(ctx, r.error, r.message, r.session_id, r.call_id)}};
  return text(j);
}

std::string sse_frame(const ServerContext& ctx, const Event& e) {
  json data{{"session_id", e.session_id},
            {"call_id", e.call_id},
            {"seq", e.seq},
            {"agent", e.agent}};
  if (e.error) {
    auto message = client_message(ctx, e.error, e.data, e.session_id, e.call_id);
    data["data"] = message;
    data["error"] = {{"code", code_name(e.error)}, {"message", message}};
  } else {
    data["data"] = e.data;
  }
  if (!e.tool.empty())
    data["tool"] = e.tool;
  if (e.kind == EventKind::queued)
    data["queue_position"] = e.queue_position;
  if (e.terminal())
    data["turn"] = e.turn;
  std::string out;
  out.reserve(e.data.size() + 160);
  out += "id: ";
  out += std::to_string(e.call_id);
  out += ':';
  out += std::to_string(e.seq);
  out += "\nevent: ";
  out += to_string(e.kind);
  out += "\ndata: ";
  out += text(data); // one line: JSON escapes every newline
  out += "\n\n";
  return out;
}

std::string session_json(const SessionInfo& info) {
  return text({{"agent", info.key.agent},
               {"session_id", info.key.session_id},
               {"created_ms", epoch_ms(info.created)},
               {"last_activity_ms", epoch_ms(info.last_activity)},
               {"turns", info.turns},
               {"queue_depth", info.queue_depth},
               {"running", info.running},
               {"history_size", info.history_size},
               {"mean_turn_time_us", info.mean_turn_time.count()}});
}

std::string history_json(const SessionKey& key, const HistoryPage& page) {
  json entries = json::array();
  for (auto& m : page.entries) {
    json e{{"role", to_string(m.role)}, {"content", m.content}};
    if (!m.name.empty())
      e["name"] = m.name;
    entries.push_back(std::move(e));
  }
  return text({{"agent", key.agent},
               {"session_id", key.session_id},
               {"from", page.from},
               {"total", page.total},
               {"turns", page.turns},
               {"entries", std::move(entries)}});
}

std::string state_json(const SessionKey& key, const StateMap& state) {
  json s = json::object();
  for (auto& [k, v] : state)
    s[k] = v;
  return text({{"agent", key.agent}, {"session_id", key.session_id}, {"state", std::move(s)}});
}

std::string stats_json(const RuntimeStats& s) {
  return text({{"live_sessions", s.live_sessions},     {"queued_calls", s.queued_calls},
               {"running_turns", s.running_turns},     {"turns_completed", s.turns_completed},
               {"turns_failed", s.turns_failed},       {"turns_cancelled", s.turns_cancelled},
               {"calls_rejected", s.calls_rejected},   {"calls_replayed", s.calls_replayed},
               {"expirations", s.expirations},         {"activations", s.activations}});
}

std::string agents_json(const std::vector<std::string>& agents) {
  return text({{"agents", agents}});
}

} // namespace agentrt::server::detail
