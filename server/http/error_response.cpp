#include "http/error_response.hpp"

#include <nlohmann/json.hpp>

namespace agentrt::server::detail {

Response error_response(unsigned status, std::string_view code, std::string_view message) {
  nlohmann::json body{{"error", {{"code", code}, {"message", message}}}};
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

} // namespace agentrt::server::detail
