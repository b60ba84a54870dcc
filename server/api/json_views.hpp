#pragma once

// What the API's answers look like: JSON views of replies, events (as SSE frames),
// sessions, history pages and counters.

#include <agentrt/event.hpp>
#include <agentrt/history.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/session_key.hpp>
#include <agentrt/stats.hpp>

#include <string>
#include <vector>

namespace agentrt::server::detail {

struct ServerContext;

std::string reply_json(const ServerContext& ctx, const Reply& r);
/// One SSE frame: `id: call:seq`, `event: kind`, `data: {...}`, a blank line.
std::string sse_frame(const ServerContext& ctx, const Event& e);
std::string session_json(const SessionInfo& info);
std::string history_json(const SessionKey& key, const HistoryPage& page);
std::string state_json(const SessionKey& key, const StateMap& state);
std::string stats_json(const RuntimeStats& s);
std::string agents_json(const std::vector<std::string>& agents);

} // namespace agentrt::server::detail
