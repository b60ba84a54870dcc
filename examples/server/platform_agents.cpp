#include "server/platform_agents.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <functional>

namespace server_program {

namespace {

/// The pieces echo-agent streams: "echo: ", each word with the spaces after it, the rest.
std::vector<std::string> pieces(const std::string& input, std::string rest) {
  std::vector<std::string> out{"echo: "};
  std::size_t start = 0;
  while (start < input.size()) {
    auto end = input.find(' ', start);
    end = end == std::string::npos ? input.size() : input.find_first_not_of(' ', end);
    end = end == std::string::npos ? input.size() : end;
    out.push_back(input.substr(start, end - start));
    start = end;
  }
  out.push_back(std::move(rest));
  return out;
}

/// A number param in [0, max]; `fallback` when absent, nullopt when malformed.
std::optional<long> number_param(std::string_view text, long fallback, long max) {
  if (text.empty())
    return fallback;
  long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0 || v > max)
    return std::nullopt;
  return v;
}

} // namespace

agentrt::Task<std::string> echo_agent(agentrt::AsyncTurn& t) {
  auto delay = number_param(t.param("delay_ms"), 0, 60'000);
  if (!delay) {
    t.fail("delay_ms must be a whole number of milliseconds, 0-60000");
    co_return std::string{};
  }
  auto tasks = number_param(t.state().get_or("tasks", "0"), 0, 1L << 62).value_or(0) + 1;
  t.state().set("tasks", std::to_string(tasks));
  std::string rest;
  if (!t.params().empty()) {
    rest += " [";
    for (const auto& [k, v] : t.params())
      rest += (rest.size() > 2 ? ", " : "") + k + "=" + v;
    rest += "]";
  }
  rest += " (task " + std::to_string(tasks) + ")";
  std::string output;
  for (auto& piece : pieces(t.input(), std::move(rest))) {
    if (*delay > 0 && !co_await t.sleep(std::chrono::milliseconds(*delay)))
      co_return output; // stopped: the runtime ends the call (cancelled, timeout, ...)
    output += piece;
    t.emit(std::move(piece));
  }
  if (auto why = t.param("fail"); !why.empty())
    t.fail(std::string{why});
  co_return output;
}

agentrt::ToolResult weather(const agentrt::ToolRequest& request) {
  auto failed = [](std::string why) {
    return agentrt::Error{agentrt::errc::tool_failed, "weather: " + std::move(why)};
  };
  if (!request.operation.empty() && request.operation != "forecast")
    return failed("unknown operation '" + request.operation + "' (forecast is the one)");
  auto args = nlohmann::json::parse(request.arguments, nullptr, false);
  if (!args.is_object())
    return failed("arguments must be a JSON object");
  auto text = [&](const char* key, std::string fallback) { // "3" and 3 alike
    auto it = args.find(key);
    if (it == args.end())
      return fallback;
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  auto location = text("location", "");
  if (location.empty())
    return failed("location is required");
  auto days = number_param(text("days", "1"), 1, 7);
  if (!days || *days < 1)
    return failed("days must be 1-7");
  static const char* const skies[] = {"sunny", "cloudy", "rain", "windy", "snow"};
  auto seed = std::hash<std::string>{}(location);
  nlohmann::json forecast = nlohmann::json::array();
  for (long d = 1; d <= *days; ++d) {
    auto h = seed / static_cast<std::size_t>(d * 7 + 1);
    int high = static_cast<int>(h % 30) + 5;
    forecast.push_back({{"day", d},
                        {"summary", skies[h % 5]},
                        {"high_c", high},
                        {"low_c", high - static_cast<int>(h % 9) - 2}});
  }
  nlohmann::json out{{"session_id", request.session_id},
                     {"location", location},
                     {"days", *days},
                     {"forecast", std::move(forecast)}};
  return out.dump();
}

} // namespace server_program
