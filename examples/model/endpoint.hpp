#pragma once

// Endpoint: where an OpenAI-compatible server listens, parsed from a base URL such as
// "http://127.0.0.1:8080/v1" (llama.cpp, Ollama, vLLM all serve `/v1/chat/completions`).

#include <optional>
#include <string>

namespace model {

struct Endpoint {
  std::string host;
  std::string port;
  /// The base path without a trailing slash ("/v1"); requests go to base + "/chat/completions".
  std::string base_path;
};

/// Parses an `http://host[:port][/path]` URL. Empty optional with `error` set when the URL
/// is not one (https is refused: this example client speaks plain HTTP to a local server or
/// a TLS-terminating proxy).
std::optional<Endpoint> parse_endpoint(const std::string& url, std::string& error);

} // namespace model
