#pragma once

// The one shape of every error answer: {"error": {"code", "message"}} with a status.

#include "http/exchange.hpp"

#include <string_view>

namespace agentrt::server::detail {

Response error_response(unsigned status, std::string_view code, std::string_view message);

} // namespace agentrt::server::detail
