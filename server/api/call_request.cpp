#include "api/call_request.hpp"

#include "shared/wire.hpp"

#include "http/error_response.hpp"

#include <nlohmann/json.hpp>


namespace agentrt::server::detail {

namespace {

using nlohmann::json;

ParsedRequest bad(std::string_view code, std::string message) {
  return {std::nullopt, error_response(400, code, message)};
}

const std::string policy_error = "'on_busy' must be one of enqueue, reject, interrupt, rollback";
const std::string timeout_error =
  "'timeout_ms' must be an integer from 0 to " + std::to_string(max_timeout_ms);

void set_timeout(Request& r, unsigned long long ms) {
  if (ms > 0) // 0: the runtime's default
    r.timeout = std::chrono::milliseconds(ms);
}

/// A header that may stand for a field of the input (Idempotency-Key for `request_id`,
/// X-Session-Id, what a proxy hashes to pick a node, for `session_id`): it fills the field,
/// and must agree with it when both are given. Why not, if they differ.
std::optional<std::string> header_for(const Exchange& ex, std::string_view header,
                                      std::string& field, std::string_view field_name) {
  auto value = ex.header(header);
  if (value.empty())
    return std::nullopt;
  if (!field.empty() && field != value)
    return "the " + std::string{header} + " header and '" + std::string{field_name} + "' differ";
  field = std::string{value};
  return std::nullopt;
}

/// The request's headers that stand for fields of its input.
std::optional<std::string> from_headers(const Exchange& ex, Request& r) {
  if (auto why = header_for(ex, "Idempotency-Key", r.request_id, "request_id"))
    return why;
  return header_for(ex, "X-Session-Id", r.session_id, "session_id");
}

} // namespace

ParsedRequest request_from_body(const Exchange& ex, std::string agent) {
  // nlohmann rejects invalid UTF-8 in strings while parsing: such a body is invalid JSON.
  json body = json::parse(ex.request().body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return bad("invalid_json", "the body must be a JSON object (UTF-8)");
  Request r;
  r.agent = std::move(agent);
  auto input = body.find("input");
  if (input == body.end())
    return bad("invalid_request", "'input' is required");
  if (!input->is_string())
    return bad("invalid_request", "'input' must be a string");
  r.input = input->get<std::string>();
  for (auto* name : {"session_id", "request_id"}) {
    auto v = body.find(name);
    if (v == body.end() || v->is_null())
      continue;
    if (!v->is_string())
      return bad("invalid_request", std::string{"'"} + name + "' must be a string");
    (name[0] == 's' ? r.session_id : r.request_id) = v->get<std::string>();
  }
  if (auto p = body.find("params"); p != body.end()) {
    if (!p->is_object())
      return bad("invalid_request", "'params' must be an object of strings");
    for (auto& [k, v] : p->items()) {
      if (!v.is_string())
        return bad("invalid_request", "'params." + k + "' must be a string");
      r.params.emplace(k, v.get<std::string>());
    }
  }
  if (auto b = body.find("on_busy"); b != body.end()) {
    auto p = b->is_string() ? busy_policy_named(b->get<std::string>()) : std::nullopt;
    if (!p)
      return bad("invalid_request", policy_error);
    r.on_busy = *p;
  }
  if (auto t = body.find("timeout_ms"); t != body.end()) {
    if (!t->is_number_unsigned() || t->get<std::uint64_t>() > max_timeout_ms)
      return bad("invalid_request", timeout_error);
    set_timeout(r, t->get<std::uint64_t>());
  }
  if (auto why = from_headers(ex, r))
    return bad("invalid_request", *why);
  return {std::move(r), {}};
}

ParsedRequest request_from_query(const Exchange& ex, std::string agent) {
  Request r;
  r.agent = std::move(agent);
  bool has_input = false;
  for (auto& [k, v] : ex.target().query) {
    if (k == "input") {
      r.input = v;
      has_input = true;
    } else if (k == "session_id") {
      r.session_id = v;
    } else if (k == "request_id") {
      r.request_id = v;
    } else if (k == "on_busy") {
      auto p = busy_policy_named(v);
      if (!p)
        return bad("invalid_query", policy_error);
      r.on_busy = *p;
    } else if (k == "timeout_ms") {
      std::uint64_t ms = 0;
      if (!parse_u64(v, ms) || ms > max_timeout_ms)
        return bad("invalid_query", timeout_error);
      set_timeout(r, ms);
    } else if (k.rfind("param.", 0) == 0 && k.size() > 6) {
      r.params.insert_or_assign(k.substr(6), v);
    }
    // Anything else (access_token, a cache-buster) is not the call's business.
  }
  if (!has_input)
    return bad("invalid_query", "the query needs 'input'");
  if (auto why = from_headers(ex, r))
    return bad("invalid_query", *why);
  return {std::move(r), {}};
}

} // namespace agentrt::server::detail
