#pragma once

// The agents the examples play with: stand-ins for LLM-backed agents that behave like the
// real thing where it matters to a runtime (they block, stream, remember, fail).

#include <agentrt/agentrt.hpp>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace demo {

/// A blocking assistant: streams its answer word by word (`ms_per_word` param, default 30)
/// and remembers the user's name in the session state.
///   "my name is X"        remembers X
///   "what is my name?"    answers from the session state
///   "count to N"          streams 1..N, stopping early when the call is stopped
///   "fail"                throws, as an upstream error would
///   anything else         "Here is a plan for: <input>."
inline std::string assistant(agentrt::Turn& t) {
  const auto& in = t.input();
  auto ms = std::chrono::milliseconds(std::stoi(std::string{t.param("ms_per_word", "30")}));
  std::string answer;
  if (auto pos = in.find("my name is "); pos != std::string::npos) {
    auto name = in.substr(pos + 11);
    t.state().set("name", name);
    answer = "Nice to meet you, " + name + ".";
  } else if (in.find("what is my name") != std::string::npos) {
    auto name = t.state().get("name");
    answer = name ? "Your name is " + *name + "." : "I don't know your name yet.";
  } else if (in.rfind("count to ", 0) == 0) {
    int n = std::min(std::stoi(in.substr(9)), 10'000); // a demo, not a load generator
    t.phase("counting");
    int i = 1;
    for (; i <= n && !t.stop_requested(); ++i) {
      std::this_thread::sleep_for(ms);
      t.emit(std::to_string(i) + " ");
    }
    return "counted to " + std::to_string(i - 1);
  } else if (in == "fail") {
    throw std::runtime_error("upstream model returned 503");
  } else {
    answer = "Here is a plan for: " + in + ".";
  }
  t.phase("generating");
  std::istringstream words{answer};
  std::string word;
  while (words >> word) {
    if (t.stop_requested())
      break;
    std::this_thread::sleep_for(ms);
    t.emit(word + " ");
  }
  return answer;
}

/// A non-blocking agent that answers at once.
inline std::string echo(agentrt::Turn& t) {
  return t.input();
}

} // namespace demo
