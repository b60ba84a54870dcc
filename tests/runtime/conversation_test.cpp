// Conversations a host can read (Runtime::history, Runtime::state), from the live session
// or the store, with clear errors for bad input. Every test body runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::eventually;
using agentrt_test::Gate;
using agentrt_test::run_with_time_limit;
using agentrt_test::counter;

namespace {

RuntimeConfig config() {
  return agentrt_test::test_config();
}

std::vector<std::string> contents(const HistoryPage& page) {
  std::vector<std::string> out;
  for (auto& m : page.entries)
    out.push_back(std::string{to_string(m.role)} + ":" + m.content);
  return out;
}

/// Five turns on counter/s: inputs a..e.
void five_turns(Runtime& rt) {
  for (std::string in : {"a", "b", "c", "d", "e"})
    REQUIRE(rt.ask({.agent = "counter", .session_id = "s", .input = in}).ok());
}

std::filesystem::path temp_dir() {
  char tmpl[] = "/tmp/agentrt-conversation-XXXXXX";
  return mkdtemp(tmpl);
}

} // namespace

TEST_CASE("a live session's history is read in pages and its state whole", "[conversation][read]") {
  run_with_time_limit(30s, "read live", [] {
    Runtime rt{config()};
    rt.register_handler("counter", counter);
    five_turns(rt);
    auto all = rt.history({"counter", "s"});
    REQUIRE(all);
    CHECK(all->total == 10);
    CHECK(all->turns == 5);
    CHECK(all->from == 0);
    CHECK(contents(*all)
          == std::vector<std::string>{"user:a", "assistant:n=1", "user:b", "assistant:n=2",
                                      "user:c", "assistant:n=3", "user:d", "assistant:n=4",
                                      "user:e", "assistant:n=5"});
    auto page = rt.history({"counter", "s"}, 7, 2);
    REQUIRE(page);
    CHECK(page->from == 7);
    CHECK(contents(*page) == std::vector<std::string>{"assistant:n=4", "user:e"});
    auto tail = rt.history({"counter", "s"}, 9, 100);
    CHECK(contents(*tail) == std::vector<std::string>{"assistant:n=5"});
    auto end = rt.history({"counter", "s"}, 10, 5); // at the end: empty, not an error
    REQUIRE(end);
    CHECK(end->entries.empty());
    CHECK(end->total == 10);
    auto count_only = rt.history({"counter", "s"}, 0, 0);
    CHECK(count_only->entries.empty());
    CHECK(count_only->total == 10);
    auto state = rt.state({"counter", "s"});
    REQUIRE(state);
    CHECK(*state == StateMap{{"n", "5"}});
  });
}

TEST_CASE("a read sees committed turns only, never a running turn's draft",
          "[conversation][read]") {
  run_with_time_limit(30s, "read during turn", [] {
    Runtime rt{config()};
    Gate gate;
    rt.register_handler(
      "slow",
      [&](Turn& t) {
        t.state().set("draft", "yes");
        t.append({Role::tool_result, "draft entry", "tool"});
        gate.arrived();
        gate.wait(t.stop_token());
        return std::string{"done"};
      },
      AgentOptions{.blocking = true});
    auto call = rt.invoke({.agent = "slow", .session_id = "s", .input = "x"}).value();
    gate.wait_arrivals(1);
    auto during = rt.history({"slow", "s"});
    REQUIRE(during);
    CHECK(during->total == 0);
    CHECK(during->turns == 0);
    CHECK(rt.state({"slow", "s"})->empty());
    gate.open();
    CHECK(call.take().ok());
    auto after = rt.history({"slow", "s"});
    CHECK(contents(*after)
          == std::vector<std::string>{"user:x", "tool_result:draft entry", "assistant:done"});
    CHECK(*rt.state({"slow", "s"}) == StateMap{{"draft", "yes"}});
  });
}

TEST_CASE("an expired session is read from the memory store without bringing it back",
          "[conversation][read][expiry]") {
  run_with_time_limit(30s, "read memory store", [] {
    auto cfg = config();
    cfg.idle_timeout = 20ms;
    cfg.expiry_interval = 5ms;
    Runtime rt{cfg};
    rt.register_handler("counter", counter);
    five_turns(rt);
    eventually([&] { return rt.stats().live_sessions == 0; });
    auto page = rt.history({"counter", "s"}, 8, 10);
    REQUIRE(page);
    CHECK(contents(*page) == std::vector<std::string>{"user:e", "assistant:n=5"});
    CHECK(page->total == 10);
    CHECK(page->turns == 5);
    CHECK(*rt.state({"counter", "s"}) == StateMap{{"n", "5"}});
    CHECK(rt.stats().live_sessions == 0); // the reads did not start a session
    // The stored copy is still the session's: the next call continues it.
    CHECK(rt.ask({.agent = "counter", .session_id = "s", .input = "f"}).output == "n=6");
  });
}

TEST_CASE("a session of a closed process is read from SQLite", "[conversation][read][sqlite]") {
  run_with_time_limit(30s, "read sqlite", [] {
    auto dir = temp_dir();
    auto cfg = config();
    cfg.store_path = (dir / "s.db").string();
    {
      Runtime rt{cfg};
      rt.register_handler("counter", counter);
      five_turns(rt);
    }
    {
      Runtime rt{cfg};
      rt.register_handler("counter", counter);
      auto page = rt.history({"counter", "s"}, 0, 4);
      REQUIRE(page);
      CHECK(contents(*page)
            == std::vector<std::string>{"user:a", "assistant:n=1", "user:b", "assistant:n=2"});
      CHECK(page->total == 10);
      CHECK(*rt.state({"counter", "s"}) == StateMap{{"n", "5"}});
      CHECK(rt.stats().live_sessions == 0);
    }
    std::filesystem::remove_all(dir);
  });
}

TEST_CASE("reads with bad input fail clearly and change nothing", "[conversation][read][errors]") {
  run_with_time_limit(30s, "read errors", [] {
    Runtime rt{config()};
    rt.register_handler("counter", counter);
    five_turns(rt);
    auto unknown = rt.history({"nope", "s"});
    CHECK(unknown.error().code == errc::unknown_agent);
    auto bad_id = rt.state({"counter", "bad id"});
    CHECK(bad_id.error().code == errc::invalid_session_id);
    auto missing = rt.history({"counter", "never"});
    CHECK(missing.error().code == errc::not_found);
    CHECK(missing.error().message == "no session counter/never, live or stored");
    CHECK(rt.state({"counter", "never"}).error().code == errc::not_found);
    auto past = rt.history({"counter", "s"}, 11, 1);
    CHECK(past.error().code == errc::invalid_range);
    CHECK(past.error().message
          == "history index 11 is past the end: the history has 10 entries");
    auto huge = rt.history({"counter", "s"}, 0, Runtime::max_history_page + 1);
    CHECK(huge.error().code == errc::invalid_range);
    CHECK(huge.error().message == "a history page holds at most 10000 entries; 10001 asked");
    CHECK(rt.stats().live_sessions == 1); // "never" was not created
    CHECK(rt.history({"counter", "s"})->total == 10);
  });
}

TEST_CASE("reads from an inline or coroutine handler are refused as blocking_required",
          "[conversation][read][errors]") {
  run_with_time_limit(30s, "read from handler", [] {
    Runtime rt{config()};
    rt.register_handler("counter", counter);
    five_turns(rt);
    rt.register_handler("reader", [&rt](Turn&) {
      auto e = rt.history({"counter", "s"}).error().code;
      return agentrt_test::code_of(e);
    });
    CHECK(rt.ask({.agent = "reader", .session_id = "r", .input = "x"}).output
          == "blocking_required");
    rt.register_handler(
      "blocking_reader",
      [&rt](Turn&) { return std::to_string(rt.history({"counter", "s"})->total); },
      AgentOptions{.blocking = true});
    CHECK(rt.ask({.agent = "blocking_reader", .session_id = "r", .input = "x"}).output == "10");
  });
}
