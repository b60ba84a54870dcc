#include "runtime/refusals.hpp"

#include "core/current_turn.hpp"
#include "core/validation.hpp"

namespace agentrt::detail {

std::string clip(const std::string& s, std::size_t n) {
  if (s.size() <= n)
    return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n; // s[n] continues a character: cut before it starts
  return s.substr(0, n) + "...";
}

Error unknown_agent(const std::string& agent) {
  return {errc::unknown_agent, "unknown agent type '" + clip(agent, 80) + "'"};
}

Error unknown_tool(const std::string& tool) {
  return {errc::unknown_tool, "unknown tool '" + clip(tool, 80) + "'"};
}

Error invalid_session_id(const std::string& id) {
  return {errc::invalid_session_id,
          "session id '" + clip(id, 160) + "' is not 1-128 characters of [A-Za-z0-9._:-]"};
}

Error input_too_large(std::size_t size, std::size_t limit) {
  return {errc::input_too_large, "input is " + std::to_string(size) + " bytes; the limit is "
                                   + std::to_string(limit)};
}

Error invalid_timeout() {
  return {errc::invalid_timeout, "the request's timeout must be positive (or unset)"};
}

Error shutting_down() {
  return {errc::shutting_down, "the runtime is shutting down and takes no more calls"};
}

Error session_closing() {
  return {errc::session_closed, "the session is being closed; call again to start a new one"};
}

Error reentrant_chain(const std::vector<SessionKey>& chain, const SessionKey& target) {
  std::string path;
  for (auto& k : chain)
    path += k.agent + "/" + k.session_id + " -> ";
  path += target.agent + "/" + target.session_id;
  return {errc::reentrant_call, "reentrant call " + path + ": " + target.agent + "/"
                                  + target.session_id + " is already waiting in this chain"};
}

Error wait_cycle(const std::vector<SessionKey>& cycle) {
  std::string path;
  for (auto& k : cycle)
    path += (path.empty() ? "" : " -> ") + k.agent + "/" + k.session_id;
  auto& target = cycle.size() > 1 ? cycle[1] : cycle.front();
  return {errc::reentrant_call, "waiting on " + target.agent + "/" + target.session_id
                                  + " would close a cycle of sessions waiting on each other: "
                                  + path};
}

Error waits_on_itself(const SessionKey& key, const char* what) {
  return {errc::reentrant_call, std::string{what} + " from a handler of " + key.agent + "/"
                                  + key.session_id
                                  + " would wait on that same session, which is running the "
                                    "handler: it would never end"};
}

/// Why a call that waits for a session (`what`) must not be made from the handler running
/// on this thread, if it must not: from an inline or coroutine handler it would hold an
/// actor worker while it waits (and two such waits on each other's sessions would never
/// end); from a blocking handler, asking its own session would wait behind itself.
std::optional<Error> waiting_not_allowed(const SessionKey& key, const char* what,
                                         bool queues_behind_turn) {
  auto& current = current_turn();
  if (current.key == nullptr)
    return std::nullopt;
  if (!current.blocking)
    return Error{errc::blocking_required,
                 std::string{what} + " waits for a session: from the inline or coroutine "
                   "handler of " + current.key->agent + "/" + current.key->session_id
                   + " it would hold an actor worker; use Turn::ask / AsyncTurn::ask, or a "
                     "blocking agent"};
  if (queues_behind_turn && *current.key == key)
    return waits_on_itself(key, what);
  return std::nullopt;
}

std::optional<Error> invalid_request_id(const std::string& id, bool one_shot, std::size_t kept) {
  if (!valid_name(id, max_session_id_length))
    return Error{errc::invalid_request_id,
                 "request id '" + clip(id, 160) + "' is not 1-128 characters of [A-Za-z0-9._:-]"};
  if (one_shot)
    return Error{errc::invalid_request_id,
                 "a one-shot call (no session id) cannot carry a request id: its session is "
                 "new each time, so a retry could never find it"};
  if (kept == 0)
    return Error{errc::invalid_request_id,
                 "request ids are off (RuntimeConfig::request_ids_kept is 0)"};
  return std::nullopt;
}

} // namespace agentrt::detail
