#include "http_server/api.hpp"

#include <agentrt/agentrt.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace agentrt_http {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// JSON text; invalid UTF-8 in agent output or ids is replaced, never a throw.
std::string text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(text(body), "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view code,
                const std::string& message) {
  send_json(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

/// The HTTP status for an error: one switch over agentrt's error groups.
int status_for(const std::error_code& e) {
  if (!e)
    return 200;
  using agentrt::condition;
  switch (agentrt::condition_of(e)) {
    case condition::invalid_request: return 400;
    case condition::too_large: return 413;
    case condition::not_found: return 404;
    case condition::busy:
    case condition::cancelled: return 409;
    case condition::overloaded: return 429;
    case condition::gone: return 410;
    case condition::timeout: return 504;
    case condition::unavailable: return 503;
    case condition::failed: return 502;
    case condition::misconfigured:
    case condition::internal: return 500;
  }
  return 500;
}

std::string code_of(const std::error_code& e) {
  if (e.category() == agentrt::error_category())
    return std::string{agentrt::to_string(static_cast<agentrt::errc>(e.value()))};
  return std::string{e.category().name()} + ":" + std::to_string(e.value());
}

/// Parses the JSON body into a Request, or answers the client with a 400/413 and returns
/// nullopt.
std::optional<agentrt::Request> parse_request(const httplib::Request& req,
                                              httplib::Response& res,
                                              const agentrt::Runtime& rt) {
  if (req.body.size() > rt.config().max_input_bytes + json_overhead) {
    send_error(res, 413, "body_too_large",
               "the request body is " + std::to_string(req.body.size())
                 + " bytes; inputs are limited to "
                 + std::to_string(rt.config().max_input_bytes));
    return std::nullopt;
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    send_error(res, 400, "invalid_json", "the body must be a JSON object");
    return std::nullopt;
  }
  agentrt::Request r;
  r.agent = req.matches[1];
  auto bad = [&](const std::string& message) {
    send_error(res, 400, "invalid_request", message);
    return std::nullopt;
  };
  if (!body.contains("input"))
    return bad("'input' is required");
  if (!body["input"].is_string())
    return bad("'input' must be a string");
  r.input = body["input"].get<std::string>();
  if (body.contains("session_id") && !body["session_id"].is_null()) {
    if (!body["session_id"].is_string())
      return bad("'session_id' must be a string");
    r.session_id = body["session_id"].get<std::string>();
  }
  if (body.contains("params")) {
    if (!body["params"].is_object())
      return bad("'params' must be an object of strings");
    for (auto& [k, v] : body["params"].items()) {
      if (!v.is_string())
        return bad("'params." + k + "' must be a string");
      r.params.emplace(k, v.get<std::string>());
    }
  }
  if (body.contains("on_busy")) {
    auto v = body["on_busy"];
    std::string p = v.is_string() ? v.get<std::string>() : "";
    if (p == "enqueue")
      r.on_busy = agentrt::BusyPolicy::enqueue;
    else if (p == "reject")
      r.on_busy = agentrt::BusyPolicy::reject;
    else if (p == "interrupt")
      r.on_busy = agentrt::BusyPolicy::interrupt;
    else if (p == "rollback")
      r.on_busy = agentrt::BusyPolicy::rollback;
    else
      return bad("'on_busy' must be one of enqueue, reject, interrupt, rollback");
  }
  if (body.contains("timeout_ms")) {
    auto v = body["timeout_ms"];
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max_timeout_ms)
      return bad("'timeout_ms' must be an integer from 0 to " + std::to_string(max_timeout_ms));
    if (auto ms = v.get<std::uint64_t>(); ms > 0) // 0: the runtime's default
      r.timeout = std::chrono::milliseconds(ms);
  }
  return r;
}

json reply_json(const agentrt::Reply& r) {
  json j{{"session_id", r.session_id},
         {"call_id", r.call_id},
         {"agent", r.agent},
         {"turn", r.turn},
         {"queued_for_us", r.queued_for.count()},
         {"ran_for_us", r.ran_for.count()}};
  if (r.ok() || !r.output.empty())
    j["output"] = r.output;
  if (!r.ok())
    j["error"] = {{"code", code_of(r.error)}, {"message", r.message}};
  return j;
}

std::string sse(const agentrt::Event& e, const agentrt::Call& call) {
  json data{{"session_id", e.session_id},
            {"call_id", e.call_id},
            {"seq", e.seq},
            {"agent", e.agent},
            {"data", e.data}};
  if (e.kind == agentrt::EventKind::queued)
    data["queue_position"] = e.queue_position;
  if (e.error)
    data["error"] = {{"code", code_of(e.error)}, {"message", e.data}};
  if (e.terminal())
    data["turn"] = call.reply().turn;
  return "event: " + std::string{agentrt::to_string(e.kind)} + "\ndata: " + text(data) + "\n\n";
}

void invoke(agentrt::Runtime& rt, const httplib::Request& req, httplib::Response& res) {
  auto r = parse_request(req, res, rt);
  if (!r)
    return;
  auto reply = rt.ask(std::move(*r));
  send_json(res, status_for(reply.error), reply_json(reply));
}

/// One stream: the runtime pushes the call's events in (on a runtime thread, never
/// blocking), httplib's content provider takes them out on the connection's thread.
struct StreamFeed {
  std::mutex mu;
  std::condition_variable ready;
  std::deque<agentrt::Event> events; // guarded by mu
  agentrt::Call call;                // set once invoke returns, before the provider runs
  bool finished = false;             // the terminal event was written (provider thread only)

  void push(const agentrt::Event& e) {
    {
      std::lock_guard l{mu};
      events.push_back(e);
    }
    ready.notify_one();
  }

  /// The events that arrived, waiting up to `quiet` for the first.
  std::deque<agentrt::Event> take(std::chrono::milliseconds quiet) {
    std::unique_lock l{mu};
    ready.wait_for(l, quiet, [&] { return !events.empty(); });
    return std::exchange(events, {});
  }
};

/// How long a stream may stay silent before a comment line checks that the client is there.
constexpr auto keepalive = 15s;

void stream(agentrt::Runtime& rt, const httplib::Request& req, httplib::Response& res) {
  auto r = parse_request(req, res, rt);
  if (!r)
    return;
  auto feed = std::make_shared<StreamFeed>();
  r->on_event = [feed](const agentrt::Event& e) { feed->push(e); };
  auto call = rt.invoke(std::move(*r));
  if (!call) { // refused before it reached a session: plain JSON, not a stream
    send_error(res, status_for(call.error().code), code_of(call.error().code),
               call.error().message);
    return;
  }
  feed->call = std::move(*call);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Session-Id", feed->call.session_id());
  res.set_chunked_content_provider(
    "text/event-stream",
    [feed](std::size_t, httplib::DataSink& sink) {
      // Sends what arrived; a comment line after a quiet spell, so a client that went away
      // is noticed (the write fails) even while the handler is silent. Runs outside
      // httplib's handler guard: nothing may escape it.
      try {
        auto events = feed->take(keepalive);
        std::string out;
        for (auto& e : events) {
          out += sse(e, feed->call);
          feed->finished = feed->finished || e.terminal();
        }
        if (events.empty())
          out = ": keepalive\n\n";
        if (!sink.is_writable() || !sink.write(out.data(), out.size()))
          return false; // the client went away: the releaser cancels the call
        if (feed->finished)
          sink.done();
        return true;
      } catch (...) {
        return false; // ends the stream; the releaser cancels the call
      }
    },
    [feed](bool success) {
      if (!success || !feed->finished)
        feed->call.cancel();
    });
}

json stats_json(const agentrt::RuntimeStats& s) {
  return {{"live_sessions", s.live_sessions},     {"queued_calls", s.queued_calls},
          {"running_turns", s.running_turns},     {"turns_completed", s.turns_completed},
          {"turns_failed", s.turns_failed},       {"turns_cancelled", s.turns_cancelled},
          {"calls_rejected", s.calls_rejected},   {"expirations", s.expirations},
          {"activations", s.activations}};
}

long long epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

} // namespace

void install_routes(httplib::Server& server, agentrt::Runtime& rt) {
  server.Post(R"(/v1/agents/([^/]+)/invoke)",
              [&rt](const httplib::Request& req, httplib::Response& res) { invoke(rt, req, res); });
  server.Post(R"(/v1/agents/([^/]+)/stream)",
              [&rt](const httplib::Request& req, httplib::Response& res) { stream(rt, req, res); });
  server.Get(R"(/v1/agents/([^/]+)/sessions/([^/]+))",
             [&rt](const httplib::Request& req, httplib::Response& res) {
               auto info = rt.describe({req.matches[1], req.matches[2]});
               if (!info)
                 return send_error(res, status_for(info.error().code),
                                   code_of(info.error().code), info.error().message);
               send_json(res, 200,
                         {{"agent", info->key.agent},
                          {"session_id", info->key.session_id},
                          {"created_ms", epoch_ms(info->created)},
                          {"last_activity_ms", epoch_ms(info->last_activity)},
                          {"turns", info->turns},
                          {"queue_depth", info->queue_depth},
                          {"running", info->running},
                          {"history_size", info->history_size},
                          {"mean_turn_time_us", info->mean_turn_time.count()}});
             });
  server.Delete(R"(/v1/agents/([^/]+)/sessions/([^/]+))",
                [&rt](const httplib::Request& req, httplib::Response& res) {
                  auto closed = rt.close({req.matches[1], req.matches[2]});
                  if (!closed)
                    return send_error(res, status_for(closed.error().code),
                                      code_of(closed.error().code), closed.error().message);
                  if (!*closed)
                    return send_error(res, 404, "not_found", "no live session with that id");
                  res.status = 204;
                });
  server.Get("/v1/stats", [&rt](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, stats_json(rt.stats()));
  });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"status", "ok"}});
  });
  // Anything else (unknown path, wrong method, a body httplib refused): a JSON error.
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty())
      return;
    auto code = res.status == 404   ? "not_found"
                : res.status == 413 ? "body_too_large"
                : res.status == 405 ? "method_not_allowed"
                                    : "bad_request";
    send_error(res, res.status, code, "HTTP " + std::to_string(res.status));
  });
  server.set_exception_handler(
    [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_error(res, 500, "internal", what);
    });
}

} // namespace agentrt_http
