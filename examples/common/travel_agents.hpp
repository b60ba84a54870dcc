#pragma once

// A trip planner: an orchestrator that fans out to flight, hotel and visa agents in
// parallel, then asks an itinerary agent, with a weather tool and a flight-search tool.
// Latencies are simulated; everything else (session ids, history, events) is real.

#include <agentrt/agentrt.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace demo {

inline void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

/// Flight offers as "code:price" pairs, cheapest last.
inline std::string search_flights(const std::string& city) {
  return "AZ100:" + std::to_string(420 + city.size()) + " FR200:310 U2300:185";
}

inline void register_travel_agents(agentrt::Runtime& rt) {
  using namespace agentrt;
  const AgentOptions blocking{.blocking = true};

  rt.register_tool(
    "weather",
    [](const ToolRequest& r) -> ToolResult {
      sleep_ms(50);
      return "sunny, 24C in " + r.arguments;
    },
    ToolOptions{.blocking = true, .timeout = std::chrono::seconds(2)});
  rt.register_tool(
    "flights",
    [](const ToolRequest& r) -> ToolResult {
      sleep_ms(100);
      return search_flights(r.arguments);
    },
    ToolOptions{.blocking = true, .timeout = std::chrono::seconds(2)});

  // The flight agent searches once, and answers follow-ups from what it found before.
  rt.register_handler(
    "flight",
    [](Turn& t) -> std::string {
      if (t.input().find("cheaper") != std::string::npos) {
        for (auto i = t.history().rbegin(); i != t.history().rend(); ++i) {
          if (i->role != Role::tool_result || i->name != "flights")
            continue;
          std::istringstream offers{i->content};
          std::string offer, best;
          int best_price = 1 << 30;
          while (offers >> offer) {
            int price = std::stoi(offer.substr(offer.find(':') + 1));
            if (price < best_price) {
              best_price = price;
              best = offer;
            }
          }
          return "cheapest earlier offer: " + best + " EUR (from the search in this conversation)";
        }
        return "no earlier flight search in this conversation";
      }
      t.phase("searching flights");
      auto r = t.call_tool("flights", t.input(), "search");
      return r ? "offers " + *r : "flight search failed: " + r.error().message;
    },
    blocking);
  rt.register_handler(
    "hotel",
    [](Turn& t) {
      t.phase("checking hotels");
      sleep_ms(250);
      return "Hotel Forum, 3 nights in " + t.input();
    },
    blocking);
  rt.register_handler(
    "visa",
    [](Turn& t) {
      sleep_ms(150);
      return "no visa needed for " + t.input();
    },
    blocking);
  rt.register_handler(
    "itinerary",
    [](Turn& t) {
      sleep_ms(100);
      return "day 1 arrive, day 2 sights, day 3 leave (" + t.input() + ")";
    },
    blocking);

  rt.register_handler(
    "planner",
    [](Turn& t) -> std::string {
      if (t.input().find("cheaper") != std::string::npos)
        return t.ask("flight", t.input()).output; // same conversation, so it remembers
      const auto& city = t.input();
      auto weather = t.call_tool("weather", city);
      auto parts = t.ask_all({{"flight", city, {}}, {"hotel", city, {}}, {"visa", city, {}}});
      std::string summary;
      for (auto& p : parts)
        summary += (p.ok() ? p.output : p.agent + " failed: " + p.message) + "; ";
      auto plan = t.ask("itinerary", weather.value_or("weather unknown"));
      return summary + plan.output;
    },
    blocking);
}

} // namespace demo
