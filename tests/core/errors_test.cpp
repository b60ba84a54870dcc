// Every error code has a name, a message that says what to do, and a std::error_code
// in agentrt's category; every enum has a name.

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace agentrt;

TEST_CASE("every errc has a distinct name and an actionable message", "[errors]") {
  const std::vector<errc> all{
    errc::ok,           errc::unknown_agent, errc::invalid_session_id, errc::input_too_large,
    errc::invalid_owner, errc::session_busy, errc::overloaded,         errc::agent_failed,
    errc::cancelled,    errc::interrupted,   errc::rolled_back,        errc::timeout,
    errc::session_closed, errc::shutting_down, errc::unknown_tool, errc::tool_failed,
    errc::reentrant_call, errc::blocking_required, errc::store_failed,
    errc::internal_error};
  std::set<std::string> names;
  std::set<std::string> messages;
  for (auto e : all) {
    std::error_code ec = e;
    CHECK(ec.category().name() == std::string{"agentrt"});
    CHECK(ec.value() == static_cast<int>(e));
    CHECK(static_cast<bool>(ec) == (e != errc::ok));
    CHECK(ec == e);
    names.insert(std::string{to_string(e)});
    messages.insert(ec.message());
    if (e != errc::ok)
      CHECK(ec.message().size() > 20);
  }
  CHECK(names.size() == all.size());
  CHECK(messages.size() == all.size());
  CHECK(to_string(errc::session_busy) == "session_busy");
  CHECK(to_string(static_cast<errc>(999)) == "unknown");
  CHECK(std::error_code(static_cast<errc>(999)).message() == "unknown agentrt error 999");
  CHECK(std::error_code(errc::overloaded).message().find("max_queue_depth") != std::string::npos);
  CHECK(std::error_code(errc::invalid_session_id).message().find("[A-Za-z0-9._:-]")
        != std::string::npos);
}

TEST_CASE("event kinds, busy policies and roles have wire names", "[errors]") {
  CHECK(to_string(EventKind::queued) == "queued");
  CHECK(to_string(EventKind::started) == "started");
  CHECK(to_string(EventKind::phase) == "phase");
  CHECK(to_string(EventKind::thought) == "thought");
  CHECK(to_string(EventKind::chunk) == "chunk");
  CHECK(to_string(EventKind::tool_call) == "tool_call");
  CHECK(to_string(EventKind::tool_result) == "tool_result");
  CHECK(to_string(EventKind::completed) == "completed");
  CHECK(to_string(EventKind::failed) == "failed");
  CHECK(to_string(EventKind::cancelled) == "cancelled");
  CHECK(is_terminal(EventKind::completed));
  CHECK(is_terminal(EventKind::failed));
  CHECK(is_terminal(EventKind::cancelled));
  CHECK_FALSE(is_terminal(EventKind::chunk));
  CHECK(to_string(BusyPolicy::enqueue) == "enqueue");
  CHECK(to_string(BusyPolicy::reject) == "reject");
  CHECK(to_string(BusyPolicy::interrupt) == "interrupt");
  CHECK(to_string(BusyPolicy::rollback) == "rollback");
  CHECK(to_string(Role::system) == "system");
  CHECK(to_string(Role::user) == "user");
  CHECK(to_string(Role::assistant) == "assistant");
  CHECK(to_string(Role::tool_call) == "tool_call");
  CHECK(to_string(Role::tool_result) == "tool_result");
}
