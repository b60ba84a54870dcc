#include "shared/error_text.hpp"

#include <agentrt/errors.hpp>

#include <spdlog/spdlog.h>

namespace agentrt::server::detail {

std::string code_name(const std::error_code& e) {
  if (e.category() == error_category())
    return std::string{to_string(static_cast<errc>(e.value()))};
  return std::string{e.category().name()} + ":" + std::to_string(e.value());
}

namespace {

/// Codes whose message is text from the host's code (an agent, a tool, a store), which
/// may hold what a client should not see.
bool foreign_text(const std::error_code& e) noexcept {
  return e == errc::agent_failed || e == errc::tool_failed || e == errc::internal_error
         || e == errc::store_failed || e == errc::abandoned
         || e.category() != error_category();
}

} // namespace

std::string client_message(bool expose, spdlog::logger& log, const std::error_code& e,
                           const std::string& message, std::string_view session,
                           std::uint64_t call_id) {
  if (!e || expose || !foreign_text(e))
    return message;
  log.warn("[{}/{}] {}: {}", session, call_id, code_name(e), message);
  auto which = call_id == 0 ? std::string{}
                            : " (call " + std::to_string(call_id) + ")";
  const char* what = e == errc::store_failed ? "the session store failed"
                     : e == errc::tool_failed  ? "the tool failed"
                                               : "the agent failed";
  return what + std::string{"; the server log has the details"} + which;
}

} // namespace agentrt::server::detail
