// The transaction rules of a turn, without actors: a draft that commits whole or not at all.

#include "core/agent_registry.hpp"
#include "core/session_data.hpp"
#include "core/validation.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace agentrt;
using namespace agentrt::detail;

namespace {

struct Scripted final : Agent {
  std::function<std::string(Turn&)> fn;
  std::string handle(Turn& t) override {
    return fn(t);
  }
};

struct World {
  AgentEntry entry;
  std::shared_ptr<SessionData> session = std::make_shared<SessionData>();
  Scripted* agent = nullptr;

  explicit World(std::function<std::string(Turn&)> fn) {
    entry.type = "a";
    entry.factory = [this, fn](const SessionKey&) {
      auto a = std::make_unique<Scripted>();
      a->fn = fn;
      agent = a.get();
      return a;
    };
    session->key = SessionKey{"a", "s"};
    session->entry = std::shared_ptr<const AgentEntry>{&entry, [](const AgentEntry*) {}};
  }

  CallPtr call(std::string input) {
    Request r;
    r.agent = "a";
    r.session_id = "s";
    r.input = std::move(input);
    return std::make_shared<CallState>(1, std::move(r), Clock::now(), std::chrono::seconds(1));
  }
};

} // namespace

TEST_CASE("a turn sees committed state overlaid with its own writes", "[turn]") {
  World w{[](Turn& t) {
    CHECK(t.state().get("k") == std::optional<std::string>{"v1"});
    t.state().set("k", "v2");
    CHECK(t.state().get("k") == std::optional<std::string>{"v2"});
    t.state().erase("gone");
    CHECK_FALSE(t.state().contains("gone"));
    CHECK(t.state().get_or("gone", "fallback") == "fallback");
    t.state().set("new", "n");
    return std::string{"out"};
  }};
  w.session->state = {{"k", "v1"}, {"gone", "x"}};
  TurnContext ctx{w.call("in"), w.session};
  run_turn(ctx);
  REQUIRE_FALSE(ctx.failed);
  // Nothing is visible before commit.
  CHECK(w.session->state == StateMap{{"k", "v1"}, {"gone", "x"}});
  CHECK(w.session->history.empty());
  commit_turn(*w.session, ctx);
  CHECK(w.session->state == StateMap{{"k", "v2"}, {"new", "n"}});
  REQUIRE(w.session->history.size() == 2);
  CHECK(w.session->history[0] == Message{Role::user, "in", {}});
  CHECK(w.session->history[1] == Message{Role::assistant, "out", {}});
  CHECK(w.session->turns == 1);
}

TEST_CASE("appended entries commit between the input and the output", "[turn]") {
  World w{[](Turn& t) {
    t.append(Message{Role::tool_call, "weather(Paris)", "weather"});
    t.append(Message{Role::tool_result, "sunny", "weather"});
    return std::string{"It is sunny."};
  }};
  TurnContext ctx{w.call("weather?"), w.session};
  run_turn(ctx);
  commit_turn(*w.session, ctx);
  REQUIRE(w.session->history.size() == 4);
  CHECK(w.session->history[0].role == Role::user);
  CHECK(w.session->history[1] == Message{Role::tool_call, "weather(Paris)", "weather"});
  CHECK(w.session->history[2] == Message{Role::tool_result, "sunny", "weather"});
  CHECK(w.session->history[3] == Message{Role::assistant, "It is sunny.", {}});
}

TEST_CASE("an exception marks the turn failed with its message", "[turn]") {
  World w{[](Turn& t) -> std::string {
    t.state().set("k", "changed");
    throw std::runtime_error("rate limited");
  }};
  TurnContext ctx{w.call("x"), w.session};
  run_turn(ctx);
  CHECK(ctx.failed);
  CHECK(ctx.failure == "rate limited");
  CHECK(w.session->state.empty());
}

TEST_CASE("a non-standard exception is reported too", "[turn]") {
  World w{[](Turn&) -> std::string { throw 42; }};
  TurnContext ctx{w.call("x"), w.session};
  run_turn(ctx);
  CHECK(ctx.failed);
  CHECK(ctx.failure == "unknown exception");
}

TEST_CASE("the agent is created once, on the first turn, and kept", "[turn]") {
  int created = 0;
  AgentEntry entry;
  entry.factory = [&](const SessionKey& key) {
    ++created;
    CHECK(key == SessionKey{"a", "s"});
    auto a = std::make_unique<Scripted>();
    a->fn = [](Turn& t) { return std::to_string(t.number()); };
    return a;
  };
  auto session = std::make_shared<SessionData>();
  session->key = SessionKey{"a", "s"};
  session->entry = std::shared_ptr<const AgentEntry>{&entry, [](const AgentEntry*) {}};
  for (int i = 1; i <= 3; ++i) {
    Request r;
    r.input = "x";
    TurnContext ctx{std::make_shared<CallState>(i, std::move(r), Clock::now(),
                                                std::chrono::seconds(1)),
                    session};
    run_turn(ctx);
    CHECK(ctx.output == std::to_string(i));
    commit_turn(*session, ctx);
  }
  CHECK(created == 1);
}

TEST_CASE("session ids and agent names are validated", "[validation]") {
  CHECK(valid_session_id("user-42:chat_1.a"));
  CHECK(valid_session_id(std::string(128, 'a')));
  CHECK_FALSE(valid_session_id(std::string(129, 'a')));
  CHECK_FALSE(valid_session_id(""));
  CHECK_FALSE(valid_session_id("has space"));
  CHECK_FALSE(valid_session_id("slash/"));
  CHECK_FALSE(valid_session_id("caf\xc3\xa9"));
  CHECK(valid_agent_name("planner"));
  CHECK_FALSE(valid_agent_name(std::string(65, 'a')));
}

TEST_CASE("the registry refuses bad names, duplicates and empty factories", "[validation]") {
  AgentRegistry reg;
  auto factory = [](const SessionKey&) { return std::unique_ptr<Agent>{}; };
  reg.add("ok", factory, {});
  CHECK(reg.find("ok") != nullptr);
  CHECK(reg.find("missing") == nullptr);
  CHECK_THROWS_WITH(reg.add("ok", factory, {}), Catch::Contains("already registered"));
  CHECK_THROWS_WITH(reg.add("bad name", factory, {}), Catch::Contains("1-64 characters"));
  CHECK_THROWS_WITH(reg.add("empty", AgentFactory{}, {}), Catch::Contains("needs a factory"));
}
