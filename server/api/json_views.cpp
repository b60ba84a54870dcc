#include "api/json_views.hpp"

#include "api/errors.hpp"
#include "http/query.hpp"
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

namespace {

/// Appends `s` as a JSON string. The hot path of every stream: no DOM, no allocation
/// beyond `out`'s. Text that is not UTF-8 goes through nlohmann, which replaces bad bytes.
void append_string(std::string& out, std::string_view s) {
  if (!valid_utf8(s)) {
    out += json(std::string{s}).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0; // start of the run of bytes copied as they are
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  append_string(out, value);
}

void append_field(std::string& out, std::string_view name, std::uint64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

} // namespace

std::string sse_frame(const ServerContext& ctx, const Event& e) {
  // The same keys, in the same (sorted) order, as the other JSON answers.
  std::string message;
  if (e.error)
    message = client_message(ctx, e.error, e.data, e.session_id, e.call_id);
  std::string out;
  out.reserve(e.data.size() + e.session_id.size() + e.agent.size() + 200);
  out += "id: ";
  out += std::to_string(e.call_id);
  out += ':';
  out += std::to_string(e.seq);
  out += "\nevent: ";
  out += to_string(e.kind);
  out += "\ndata: {\"agent\":";
  append_string(out, e.agent);
  append_field(out, "call_id", e.call_id);
  append_field(out, "data", e.error ? std::string_view{message} : std::string_view{e.data});
  if (e.error) {
    out += ",\"error\":{\"code\":";
    append_string(out, code_name(e.error));
    append_field(out, "message", message);
    out += '}';
  }
  if (e.kind == EventKind::queued)
    append_field(out, "queue_position", e.queue_position);
  append_field(out, "seq", e.seq);
  append_field(out, "session_id", e.session_id);
  if (!e.tool.empty())
    append_field(out, "tool", e.tool);
  if (e.terminal())
    append_field(out, "turn", e.turn);
  out += "}\n\n"; // one line: every newline in the data is escaped
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
