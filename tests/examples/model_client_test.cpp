// The example model client: its SSE reader and URL parsing on their own, then coroutine
// turns streaming from the mock model server running as a real process.

#include "common/demo_agents.hpp"
#include "mock_llm/process.hpp"
#include "model/endpoint.hpp"
#include "model/model_client.hpp"
#include "model/model_stream.hpp"
#include "model/sse.hpp"
#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace agentrt;
using namespace std::chrono_literals;
using MockLlm = mock_llm::MockLlmProcess;
using agentrt_test::run_with_time_limit;
using agentrt_test::test_config;

namespace {

/// A coroutine agent that sends the input to the model and streams the answer.
void register_llm_agent(Runtime& rt, model::ModelClient& client) {
  rt.register_handler("llm", [&client](AsyncTurn& t) -> Task<std::string> {
    std::vector<model::ChatMessage> messages{{"user", t.input()}};
    auto answer = co_await model::stream_reply(t, client, std::move(messages));
    if (!answer)
      t.fail(answer.error().message);
    co_return answer ? *answer : std::string{};
  });
}

std::string chunks_of(const std::vector<Event>& events) {
  std::string out;
  for (auto& e : events)
    if (e.kind == EventKind::chunk)
      out += e.data;
  return out;
}

model::ModelOptions options_for(const std::string& url) {
  model::ModelOptions o;
  o.url = url;
  return o;
}

} // namespace

TEST_CASE("the SSE reader takes events in any split and skips the rest", "[model][sse]") {
  model::SseReader r;
  CHECK(r.feed("data: {\"a\"").empty());
  CHECK(r.feed(":1}\r\n\r\n: comment\nevent: x\nda") == std::vector<std::string>{"{\"a\":1}"});
  CHECK(r.feed("ta:[DONE]\n\n") == std::vector<std::string>{"[DONE]"});
  // An event's data lines are joined; an event without its blank line comes at the end.
  CHECK(r.feed("data: one\ndata: two\n\nid: 7\ndata: last\n")
        == std::vector<std::string>{"one\ntwo"});
  CHECK(r.end() == std::optional<std::string>{"last"});
  CHECK_FALSE(r.end());
  CHECK(model::read_chunk("[DONE]").done);
  auto c = model::read_chunk(R"({"choices":[{"delta":{"content":"hi"}}]})");
  CHECK(c.content == "hi");
  CHECK_FALSE(c.error);
  CHECK(model::read_chunk(R"({"choices":[{"delta":{"role":"assistant"}}]})").content.empty());
  CHECK(*model::read_chunk("not json").error
        == "the model server sent a chunk that is not JSON: not json");
  CHECK(*model::read_chunk(R"({"error":{"message":"overloaded"}})").error
        == "the model server reported an error: overloaded");
  // Odd shapes are errors or nothing, never an exception.
  CHECK(*model::read_chunk(R"({"error":{"message":null}})").error
        == "the model server reported an error: {\"message\":null}");
  CHECK(model::read_chunk(R"({"choices":["x"]})").content.empty());
  CHECK(model::read_chunk(R"({"choices":[{"delta":{"content":7}}]})").content.empty());
  auto whole = model::read_completion(R"({"choices":[{"message":{"content":"all at once"}}]})");
  CHECK(whole.content == "all at once");
  CHECK(whole.done);
}

TEST_CASE("model URLs are parsed or refused with a reason", "[model][url]") {
  std::string error;
  auto e = model::parse_endpoint("http://127.0.0.1:8080/v1/", error);
  REQUIRE(e);
  CHECK(e->host == "127.0.0.1");
  CHECK(e->port == "8080");
  CHECK(e->base_path == "/v1");
  auto plain = model::parse_endpoint("http://localhost", error);
  REQUIRE(plain);
  CHECK(plain->port == "80");
  CHECK(plain->base_path.empty());
  CHECK_FALSE(model::parse_endpoint("https://api.example.com/v1", error));
  CHECK(error.find("https is not supported") == 0);
  CHECK_FALSE(model::parse_endpoint("localhost:8080", error));
  CHECK(error == "the model URL must start with http:// (got 'localhost:8080')");
  CHECK_FALSE(model::parse_endpoint("http://host:99999/v1", error));
  CHECK_FALSE(model::parse_endpoint("http://:80/v1", error));
  CHECK_THROWS_AS(model::ModelClient{options_for("ftp://x")}, std::invalid_argument);
}

TEST_CASE("a coroutine turn streams a completion from the model server", "[model]") {
  run_with_time_limit(60s, "model stream", [] {
    MockLlm mock{MOCK_LLM, 6, 60};
    model::ModelClient client{options_for(mock.url())};
    Runtime rt{test_config()};
    register_llm_agent(rt, client);
    auto call = rt.invoke({.agent = "llm", .session_id = "s1", .input = "hello there"}).value();
    auto events = agentrt_test::read_all(call);
    auto& reply = call.reply();
    REQUIRE(reply.ok());
    CHECK(reply.output == "Mock answer to: hello there w6");
    CHECK(chunks_of(events) == reply.output); // nothing lost, nothing doubled
    // Passed on as they arrive (60 ms apart), not in one piece at the end.
    auto chunks = std::count_if(events.begin(), events.end(),
                                [](const Event& e) { return e.kind == EventKind::chunk; });
    CHECK(chunks >= 3);
    CHECK(events.back().kind == EventKind::completed);
    auto info = rt.describe({"llm", "s1"});
    REQUIRE(info);
    CHECK(info->history_size == 2); // the input and the answer, committed
    CHECK(rt.stats().running_turns == 0);
  });
}

TEST_CASE("500 coroutine turns stream from the model at once and keep their answers apart",
          "[model][concurrency]") {
  run_with_time_limit(120s, "model crowd", [] {
    MockLlm mock{MOCK_LLM, 8, 25};
    model::ModelClient client{options_for(mock.url())};
    Runtime rt{test_config()};
    register_llm_agent(rt, client);
    constexpr int n = 500;
    std::vector<Call> calls;
    for (int i = 0; i < n; ++i)
      calls.push_back(rt.invoke({.agent = "llm", .session_id = "u" + std::to_string(i),
                                 .input = "user " + std::to_string(i)})
                        .value());
    int exact = 0;
    for (int i = 0; i < n; ++i) {
      auto events = agentrt_test::read_all(calls[i]);
      auto expected = "Mock answer to: user " + std::to_string(i) + " w6 w7 w8";
      bool own = true;
      for (auto& e : events)
        own = own && e.session_id == "u" + std::to_string(i) && e.call_id == calls[i].id();
      exact += calls[i].reply().output == expected && chunks_of(events) == expected && own;
    }
    CHECK(exact == n);
  });
}

TEST_CASE("a model turn cancelled or timed out mid-stream ends at once", "[model][cancel]") {
  run_with_time_limit(60s, "model cancel", [] {
    MockLlm mock{MOCK_LLM, 100, 50}; // 5 s per answer
    model::ModelClient client{options_for(mock.url())};
    Runtime rt{test_config()};
    register_llm_agent(rt, client);
    auto call = rt.invoke({.agent = "llm", .session_id = "c", .input = "long"}).value();
    for (auto e = call.next_event(); e && e->kind != EventKind::chunk; e = call.next_event()) {
    }
    auto t0 = std::chrono::steady_clock::now();
    call.cancel();
    CHECK(call.reply().error == errc::cancelled);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s); // not the 5 s the answer would take
    auto timed = rt.ask({.agent = "llm", .session_id = "c", .input = "long", .timeout = 300ms});
    CHECK(timed.error == errc::timeout);
    auto info = rt.describe({"llm", "c"});
    REQUIRE(info);
    CHECK(info->turns == 0); // neither turn committed anything
    CHECK(info->history_size == 0);
  });
}

TEST_CASE("model failures fail the turn with the reason and change nothing", "[model][errors]") {
  run_with_time_limit(60s, "model errors", [] {
    MockLlm mock{MOCK_LLM, 3, 5};
    Runtime rt{test_config()};
    auto failing = options_for(mock.url());
    failing.model = "fail-500";
    model::ModelClient bad_model{failing};
    register_llm_agent(rt, bad_model);
    auto r = rt.ask({.agent = "llm", .session_id = "e", .input = "x"});
    CHECK(r.error == errc::agent_failed);
    CHECK(r.message
          == "the model server answered HTTP 500: {\"error\":{\"message\":\"the mock model failed "
             "as asked\",\"type\":\"invalid_request_error\"}}");
    auto url = mock.url();
    mock.stop();
    model::ModelClient gone{options_for(url)};
    Runtime rt2{test_config()};
    register_llm_agent(rt2, gone);
    auto refused = rt2.ask({.agent = "llm", .session_id = "e", .input = "x"});
    CHECK(refused.error == errc::agent_failed);
    CHECK(refused.message.find("the model request failed while connecting to 127.0.0.1:")
          == 0);
    CHECK(rt.describe({"llm", "e"})->turns == 0);
  });
}

TEST_CASE("a model server that answers one JSON completion instead of a stream is understood",
          "[model]") {
  run_with_time_limit(60s, "no stream", [] {
    MockLlm mock{MOCK_LLM, 4, 5};
    Runtime rt{test_config()};
    auto o = options_for(mock.url());
    o.model = "no-stream";
    model::ModelClient client{o};
    register_llm_agent(rt, client);
    auto call = rt.invoke({.agent = "llm", .session_id = "j", .input = "hello there"}).value();
    auto events = agentrt_test::read_all(call);
    auto r = call.take();
    CHECK(r.ok());
    CHECK(r.output == "Mock answer to: hello");
    CHECK(chunks_of(events) == "Mock answer to: hello");
    int chunks = 0;
    for (auto& e : events)
      chunks += e.kind == EventKind::chunk;
    CHECK(chunks == 1); // all of it at once
  });
}

TEST_CASE("a model server that dies mid-stream or a client that stops fails the turn",
          "[model][errors]") {
  run_with_time_limit(60s, "model dies", [] {
    auto mock = std::make_unique<MockLlm>(MOCK_LLM, 100, 50);
    auto client = std::make_unique<model::ModelClient>(options_for(mock->url()));
    Runtime rt{test_config()};
    register_llm_agent(rt, *client);
    auto call = rt.invoke({.agent = "llm", .session_id = "d", .input = "x"}).value();
    for (auto e = call.next_event(); e && e->kind != EventKind::chunk; e = call.next_event()) {
    }
    mock->stop();
    CHECK(call.reply().error == errc::agent_failed);
    CHECK(call.reply().message.find("the model request failed while reading the stream") == 0);

    mock = std::make_unique<MockLlm>(MOCK_LLM, 100, 50);
    Runtime rt2{test_config()};
    auto short_lived = std::make_unique<model::ModelClient>(options_for(mock->url()));
    register_llm_agent(rt2, *short_lived);
    auto c2 = rt2.invoke({.agent = "llm", .session_id = "d", .input = "x"}).value();
    for (auto e = c2.next_event(); e && e->kind != EventKind::chunk; e = c2.next_event()) {
    }
    short_lived.reset(); // the client stops while the turn waits on it
    CHECK(c2.reply().error == errc::agent_failed);
    CHECK(c2.reply().message == "the model client stopped");
  });
}

TEST_CASE("the example assistant answers from the model and remembers the conversation",
          "[model][demo]") {
  run_with_time_limit(60s, "assistant", [] {
    MockLlm mock{MOCK_LLM, 5, 5};
    model::ModelClient client{options_for(mock.url())};
    Runtime rt{test_config()};
    rt.register_handler("assistant",
                        [&client](AsyncTurn& t) { return demo::assistant(t, &client); });
    auto a = rt.ask({.agent = "assistant", .session_id = "a", .input = "my name is Ada",
                     .params = {{"ms_per_word", "1"}}});
    CHECK(a.output == "Nice to meet you, Ada.");
    auto b = rt.ask({.agent = "assistant", .session_id = "a", .input = "plan a trip"});
    CHECK(b.output == "Mock answer to: plan a");
    auto c = rt.ask({.agent = "assistant", .session_id = "a", .input = "what is my name?",
                     .params = {{"ms_per_word", "1"}}});
    CHECK(c.output == "Your name is Ada.");
    CHECK(rt.describe({"assistant", "a"})->history_size == 6);
  });
}
