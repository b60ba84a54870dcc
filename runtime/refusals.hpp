#pragma once

// The errors a call can be refused with before it reaches a session, each worded once.

#include <agentrt/result.hpp>
#include <agentrt/session_key.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace agentrt::detail {

/// At most `n` bytes of `s`, cut at a UTF-8 character boundary, with "..." when cut (for
/// messages that quote what the caller sent).
std::string clip(const std::string& s, std::size_t n);

Error unknown_agent(const std::string& agent);
Error unknown_tool(const std::string& tool);
Error invalid_session_id(const std::string& id);
Error input_too_large(std::size_t size, std::size_t limit);
Error invalid_timeout();
Error shutting_down();
Error session_closing();
/// `chain` waits on `target`, which is already in it.
Error reentrant_chain(const std::vector<SessionKey>& chain, const SessionKey& target);
/// Waiting on `cycle[1]` would close the cycle of waiting sessions `cycle`.
Error wait_cycle(const std::vector<SessionKey>& cycle);
/// A handler of `key` would wait on its own session (`what`: "ask", "describe", "close").
Error waits_on_itself(const SessionKey& key, const char* what);
/// Why a call that waits for a session (`what`) must not be made from the handler running
/// on this thread, if it must not (blocking_required, or waiting on its own session when
/// `queues_behind_turn`).
/// Why `id` cannot be a request id here, if it cannot (invalid_request_id).
std::optional<Error> invalid_request_id(const std::string& id, bool one_shot, std::size_t kept);
std::optional<Error> waiting_not_allowed(const SessionKey& key, const char* what,
                                         bool queues_behind_turn);

} // namespace agentrt::detail
