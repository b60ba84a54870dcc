#include "model/endpoint.hpp"

#include <algorithm>
#include <cctype>

namespace model {

std::optional<Endpoint> parse_endpoint(const std::string& url, std::string& error) {
  const std::string scheme = "http://";
  if (url.rfind("https://", 0) == 0) {
    error = "https is not supported by the example model client; point it at a local server "
            "or a TLS-terminating proxy over http";
    return std::nullopt;
  }
  if (url.rfind(scheme, 0) != 0) {
    error = "the model URL must start with http:// (got '" + url + "')";
    return std::nullopt;
  }
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  Endpoint e;
  e.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!e.base_path.empty() && e.base_path.back() == '/')
    e.base_path.pop_back();
  auto colon = authority.rfind(':');
  e.host = authority.substr(0, colon);
  e.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  bool digits = !e.port.empty() && e.port.size() <= 5
                && std::all_of(e.port.begin(), e.port.end(),
                               [](unsigned char c) { return std::isdigit(c) != 0; });
  if (e.host.empty() || !digits || std::stoul(e.port) == 0 || std::stoul(e.port) > 65535) {
    error = "the model URL needs a host and a port from 1 to 65535 (got '" + url + "')";
    return std::nullopt;
  }
  return e;
}

} // namespace model
