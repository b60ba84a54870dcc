#include <agentrt/errors.hpp>
#include <agentrt/event.hpp>
#include <agentrt/history.hpp>
#include <agentrt/request.hpp>

#include <string>

namespace agentrt {

namespace {

class Category final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "agentrt";
  }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "success";
      case errc::unknown_agent:
        return "unknown agent type: register it with Runtime::register_agent before calling it";
      case errc::invalid_session_id:
        return "invalid session id: use 1-128 characters of [A-Za-z0-9._:-], or leave it "
               "empty for a new one-shot session";
      case errc::input_too_large:
        return "input too large: shorten it or raise RuntimeConfig::max_input_bytes";
      case errc::invalid_owner:
        return "invalid owner: use a non-empty owner of at most 256 bytes";
      case errc::session_busy:
        return "session busy: it was running a turn and the call asked to be rejected; retry "
               "later or use busy policy enqueue";
      case errc::overloaded:
        return "session overloaded: its queue is full; retry later or raise max_queue_depth";
      case errc::agent_failed:
        return "the agent failed this turn; the session is unchanged and can be called again";
      case errc::cancelled:
        return "cancelled by the caller; the turn's changes were discarded";
      case errc::interrupted:
        return "interrupted by a later call; what the turn produced was kept";
      case errc::rolled_back:
        return "rolled back by a later call; the turn and its input were discarded";
      case errc::timeout:
        return "timed out: the call did not finish within its timeout; its changes were "
               "discarded; retry, or raise the timeout";
      case errc::session_closed:
        return "the session was closed; call again to start a new session";
      case errc::shutting_down:
        return "the runtime is shutting down and takes no more calls";
      case errc::unknown_tool:
        return "unknown tool: register it with Runtime::register_tool before calling it";
      case errc::tool_failed:
        return "the tool failed; see the error for its message";
      case errc::reentrant_call:
        return "reentrant call: the call chain comes back to a session that is waiting in it "
               "and would wait on itself; restructure the agents or use a separate session";
      case errc::blocking_required:
        return "this waits on other work: register the calling agent with "
               "AgentOptions::blocking = true";
      case errc::store_failed:
        return "the session store failed; the session is unchanged; check the store (disk "
               "space, permissions) and retry";
      case errc::internal_error:
        return "an internal failure ended the session before the call finished; its changes "
               "were discarded; see the log, and call again";
      case errc::not_found:
        return "not found: no such session, or nothing of it is kept; check the agent type "
               "and session id";
      case errc::invalid_timeout:
        return "invalid timeout: give a positive timeout, or none for the runtime's default";
      case errc::abandoned:
        return "abandoned: an asynchronous operation dropped its completion handle without "
               "completing it; fix the client that was awaited";
      case errc::invalid_range:
        return "invalid range: the position asked for is beyond what exists; ask within it";
      case errc::invalid_request_id:
        return "invalid request id: use 1-128 characters of [A-Za-z0-9._:-], or none";
      case errc::request_id_reused:
        return "request id reused: this session saw the request id with a different input; "
               "use a new request id for a new request";
      case errc::events_expired:
        return "events expired: the call's events asked for are no longer kept; read the "
               "reply or the session's history instead";
      case errc::session_elsewhere:
        return "another node serves this session now; retry at the address given, or here "
               "once its lease ends";
      case errc::lease_lost:
        return "this node lost the session to another node while the call ran; nothing was "
               "committed; retry with the same request id";
    }
    return "unknown agentrt error " + std::to_string(value);
  }

  std::error_condition default_error_condition(int value) const noexcept override {
    if (value == 0 || to_string(static_cast<errc>(value)) == "unknown")
      return std::error_condition{value, *this};
    return make_error_condition(group_of(static_cast<errc>(value)));
  }

  static condition group_of(errc e) noexcept {
    switch (e) {
      case errc::invalid_session_id:
      case errc::invalid_owner:
      case errc::invalid_timeout:
      case errc::invalid_range:
      case errc::invalid_request_id:
      case errc::request_id_reused:
        return condition::invalid_request;
      case errc::input_too_large:
        return condition::too_large;
      case errc::unknown_agent:
      case errc::unknown_tool:
      case errc::not_found:
        return condition::not_found;
      case errc::session_busy:
        return condition::busy;
      case errc::overloaded:
        return condition::overloaded;
      case errc::cancelled:
      case errc::interrupted:
      case errc::rolled_back:
        return condition::cancelled;
      case errc::session_closed:
      case errc::events_expired:
        return condition::gone;
      case errc::timeout:
        return condition::timeout;
      case errc::shutting_down:
      case errc::store_failed:
      case errc::lease_lost:
        return condition::unavailable;
      case errc::session_elsewhere:
        return condition::elsewhere;
      case errc::agent_failed:
      case errc::tool_failed:
      case errc::abandoned:
        return condition::failed;
      case errc::reentrant_call:
      case errc::blocking_required:
        return condition::misconfigured;
      case errc::ok:
      case errc::internal_error:
        break;
    }
    return condition::internal;
  }
};

class ConditionCategory final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "agentrt.condition";
  }

  std::string message(int value) const override {
    switch (static_cast<condition>(value)) {
      case condition::invalid_request: return "the request is malformed";
      case condition::too_large: return "the request is too large";
      case condition::not_found: return "not found";
      case condition::busy: return "the session is busy";
      case condition::overloaded: return "overloaded: retry later";
      case condition::cancelled: return "cancelled";
      case condition::gone: return "the session was closed";
      case condition::timeout: return "timed out";
      case condition::unavailable: return "unavailable: retry later";
      case condition::failed: return "the agent or a tool failed";
      case condition::misconfigured: return "the agents are set up so that this cannot work";
      case condition::internal: return "internal error";
      case condition::elsewhere: return "another node serves the session: retry there";
    }
    return "unknown agentrt condition " + std::to_string(value);
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

const std::error_category& condition_category() noexcept {
  static const ConditionCategory category;
  return category;
}

std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

condition condition_of(const std::error_code& ec) noexcept {
  if (!ec || ec.category() != error_category())
    return condition::internal;
  return Category::group_of(static_cast<errc>(ec.value()));
}

std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::unknown_agent: return "unknown_agent";
    case errc::invalid_session_id: return "invalid_session_id";
    case errc::input_too_large: return "input_too_large";
    case errc::invalid_owner: return "invalid_owner";
    case errc::session_busy: return "session_busy";
    case errc::overloaded: return "overloaded";
    case errc::agent_failed: return "agent_failed";
    case errc::cancelled: return "cancelled";
    case errc::interrupted: return "interrupted";
    case errc::rolled_back: return "rolled_back";
    case errc::timeout: return "timeout";
    case errc::session_closed: return "session_closed";
    case errc::shutting_down: return "shutting_down";
    case errc::unknown_tool: return "unknown_tool";
    case errc::tool_failed: return "tool_failed";
    case errc::reentrant_call: return "reentrant_call";
    case errc::blocking_required: return "blocking_required";
    case errc::store_failed: return "store_failed";
    case errc::internal_error: return "internal_error";
    case errc::not_found: return "not_found";
    case errc::invalid_timeout: return "invalid_timeout";
    case errc::abandoned: return "abandoned";
    case errc::invalid_range: return "invalid_range";
    case errc::invalid_request_id: return "invalid_request_id";
    case errc::request_id_reused: return "request_id_reused";
    case errc::events_expired: return "events_expired";
    case errc::session_elsewhere: return "session_elsewhere";
    case errc::lease_lost: return "lease_lost";
  }
  return "unknown";
}

std::string_view to_string(condition c) noexcept {
  switch (c) {
    case condition::invalid_request: return "invalid_request";
    case condition::too_large: return "too_large";
    case condition::not_found: return "not_found";
    case condition::busy: return "busy";
    case condition::overloaded: return "overloaded";
    case condition::cancelled: return "cancelled";
    case condition::gone: return "gone";
    case condition::timeout: return "timeout";
    case condition::unavailable: return "unavailable";
    case condition::failed: return "failed";
    case condition::misconfigured: return "misconfigured";
    case condition::internal: return "internal";
    case condition::elsewhere: return "elsewhere";
  }
  return "unknown";
}

std::string_view to_string(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::queued: return "queued";
    case EventKind::started: return "started";
    case EventKind::phase: return "phase";
    case EventKind::thought: return "thought";
    case EventKind::chunk: return "chunk";
    case EventKind::tool_call: return "tool_call";
    case EventKind::tool_result: return "tool_result";
    case EventKind::completed: return "completed";
    case EventKind::failed: return "failed";
    case EventKind::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string_view to_string(BusyPolicy policy) noexcept {
  switch (policy) {
    case BusyPolicy::enqueue: return "enqueue";
    case BusyPolicy::reject: return "reject";
    case BusyPolicy::interrupt: return "interrupt";
    case BusyPolicy::rollback: return "rollback";
  }
  return "unknown";
}

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::system: return "system";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool_call: return "tool_call";
    case Role::tool_result: return "tool_result";
  }
  return "unknown";
}

} // namespace agentrt
