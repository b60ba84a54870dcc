#pragma once

// The Request of a call route: from a JSON body (POST) or the query string (GET, for
// EventSource), with the Idempotency-Key header as its request id.

#include "http/exchange.hpp"

#include <agentrt/request.hpp>

#include <optional>
#include <string>

namespace agentrt::server::detail {

/// The longest `timeout_ms` a request may ask for (1 hour).
inline constexpr unsigned long long max_timeout_ms = 3'600'000;

struct ParsedRequest {
  std::optional<Request> request; ///< set when the input was good
  Response error;                 ///< otherwise: the 400 to answer
};

ParsedRequest request_from_body(const Exchange& ex, std::string agent);
ParsedRequest request_from_query(const Exchange& ex, std::string agent);

} // namespace agentrt::server::detail
