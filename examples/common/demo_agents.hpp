#pragma once

// The agents the examples play with. `assistant` is a coroutine agent: it streams from a
// real model through model::ModelClient when one is configured (AGENTRT_LLM_URL), and from
// a built-in mock otherwise; either way its turn waits on timers or sockets, holding no
// thread.
//
// Values passed to a co_await are named first: g++ 12 destroys some temporaries of a
// co_await expression twice (a `?:` result, an aggregate, a capturing lambda).

#include "model/model_client.hpp"
#include "model/model_stream.hpp"

#include <agentrt/agentrt.hpp>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace demo {

/// The conversation so far, as chat messages for the model: the session's committed user
/// and assistant messages, then this turn's input.
inline std::vector<model::ChatMessage> conversation(const agentrt::TurnBase& t) {
  std::vector<model::ChatMessage> out;
  out.push_back({"system", "You are a concise, helpful assistant."});
  for (auto& m : t.history()) {
    if (m.role == agentrt::Role::user)
      out.push_back({"user", m.content});
    else if (m.role == agentrt::Role::assistant)
      out.push_back({"assistant", m.content});
  }
  out.push_back({"user", t.input()});
  return out;
}

/// Streams `text` word by word, one word per `ms_per_word` (a timer each, no thread).
/// Returns what it streamed: less than `text` when the turn was stopped.
inline agentrt::Task<std::string> stream_words(agentrt::AsyncTurn& t, std::string text) {
  auto ms = std::chrono::milliseconds(std::stoi(std::string{t.param("ms_per_word", "30")}));
  std::istringstream words{text};
  std::string sent;
  for (std::string word; words >> word;) {
    if (!co_await t.sleep(ms))
      break; // cancelled, timed out, ...: the turn's outcome is already decided
    t.emit(word + " ");
    sent += (sent.empty() ? "" : " ") + word;
  }
  co_return sent;
}

/// The assistant: remembers the user's name in the session state and answers the rest
/// from `llm` (a real model) or, when it is null, from a mock that streams a plan.
///   "my name is X"        remembers X
///   "what is my name?"    answers from the session state
///   "count to N"          streams 1..N, stopping early when the call is stopped
///   "fail"                throws, as an upstream error would
///   anything else         the model's answer, or "Here is a plan for: <input>."
/// `ms_per_word` (param, default 30) paces the mock and the fixed answers.
inline agentrt::Task<std::string> assistant(agentrt::AsyncTurn& t, model::ModelClient* llm) {
  const auto& in = t.input();
  if (auto pos = in.find("my name is "); pos != std::string::npos) {
    auto name = in.substr(pos + 11);
    t.state().set("name", name);
    t.phase("generating");
    auto text = "Nice to meet you, " + name + ".";
    co_return co_await stream_words(t, std::move(text));
  }
  if (in.find("what is my name") != std::string::npos) {
    auto name = t.state().get("name");
    t.phase("generating");
    auto text = name ? "Your name is " + *name + "." : std::string{"I don't know your name yet."};
    co_return co_await stream_words(t, std::move(text));
  }
  if (in.rfind("count to ", 0) == 0) {
    int n = std::min(std::stoi(in.substr(9)), 10'000); // a demo, not a load generator
    t.phase("counting");
    std::string numbers;
    for (int i = 1; i <= n; ++i)
      numbers += std::to_string(i) + " ";
    auto sent = co_await stream_words(t, numbers);
    auto counted = std::count(sent.begin(), sent.end(), ' ') + (sent.empty() ? 0 : 1);
    co_return "counted to " + std::to_string(counted);
  }
  if (in == "fail")
    throw std::runtime_error("upstream model returned 503");
  t.phase("generating");
  if (llm == nullptr) {
    auto text = "Here is a plan for: " + in + ".";
    co_return co_await stream_words(t, std::move(text));
  }
  auto messages = conversation(t);
  auto answer = co_await model::stream_reply(t, *llm, std::move(messages));
  if (!answer)
    t.fail(answer.error().message); // a model error fails the turn; nothing is committed
  co_return answer ? *answer : std::string{};
}

/// A non-blocking agent that answers at once.
inline std::string echo(agentrt::Turn& t) {
  return t.input();
}

} // namespace demo
