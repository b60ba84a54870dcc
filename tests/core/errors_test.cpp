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
    errc::internal_error, errc::not_found, errc::invalid_timeout, errc::abandoned,
    errc::invalid_range, errc::invalid_request_id, errc::request_id_reused,
    errc::events_expired};
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

TEST_CASE("every errc belongs to exactly the condition its front-end status needs",
          "[errors][conditions]") {
  const std::vector<std::pair<errc, condition>> groups{
    {errc::invalid_session_id, condition::invalid_request},
    {errc::invalid_owner, condition::invalid_request},
    {errc::invalid_timeout, condition::invalid_request},
    {errc::input_too_large, condition::too_large},
    {errc::unknown_agent, condition::not_found},
    {errc::unknown_tool, condition::not_found},
    {errc::not_found, condition::not_found},
    {errc::session_busy, condition::busy},
    {errc::overloaded, condition::overloaded},
    {errc::cancelled, condition::cancelled},
    {errc::interrupted, condition::cancelled},
    {errc::rolled_back, condition::cancelled},
    {errc::session_closed, condition::gone},
    {errc::events_expired, condition::gone},
    {errc::invalid_range, condition::invalid_request},
    {errc::invalid_request_id, condition::invalid_request},
    {errc::request_id_reused, condition::invalid_request},
    {errc::timeout, condition::timeout},
    {errc::shutting_down, condition::unavailable},
    {errc::store_failed, condition::unavailable},
    {errc::agent_failed, condition::failed},
    {errc::tool_failed, condition::failed},
    {errc::abandoned, condition::failed},
    {errc::reentrant_call, condition::misconfigured},
    {errc::blocking_required, condition::misconfigured},
    {errc::internal_error, condition::internal},
  };
  CHECK(groups.size() == 26); // every errc but ok
  std::set<std::string> names;
  for (auto [e, c] : groups) {
    std::error_code ec = e;
    CHECK(condition_of(ec) == c);
    CHECK(ec == c); // std::error_condition equivalence
    for (auto [other_e, other_c] : groups)
      if (other_c != c)
        CHECK_FALSE(ec == other_c);
    names.insert(std::string{to_string(c)});
    CHECK(std::error_condition(c).category().name() == std::string{"agentrt.condition"});
    CHECK(std::error_condition(c).message().size() > 5);
  }
  CHECK(names.size() == 12);
  // Codes agentrt does not know (a tool's, a store's) and success are "internal".
  CHECK(condition_of(std::make_error_code(std::errc::permission_denied)) == condition::internal);
  CHECK(condition_of(std::error_code{}) == condition::internal);
  CHECK(to_string(static_cast<condition>(99)) == "unknown");
}

TEST_CASE("Result holds a value or an Error, and says which", "[errors][result]") {
  Result<std::string> ok = "fine";
  REQUIRE(ok);
  CHECK(ok.has_value());
  CHECK(*ok == "fine");
  CHECK(ok->size() == 4);
  CHECK(ok.value_or("other") == "fine");
  CHECK_THROWS_AS(ok.error(), std::logic_error);
  Result<std::string> bad = Error{errc::overloaded, "queue full"};
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == errc::overloaded);
  CHECK(bad.error().group() == condition::overloaded);
  CHECK(bad.error().message == "queue full");
  CHECK(bad.value_or("other") == "other");
  CHECK_THROWS_WITH(bad.value(), Catch::Contains("queue full"));
  Result<void> done;
  CHECK(done);
  CHECK_NOTHROW(done.value());
  Result<void> failed = Error{errc::store_failed, "disk"};
  CHECK_FALSE(failed);
  CHECK(failed.error().code == condition::unavailable);
  CHECK_THROWS_AS(failed.value(), std::logic_error);
}
