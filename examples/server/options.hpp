#pragma once

// agentrt-server's settings: every one a flag and an environment variable (the flag wins).

#include <agentrt/config.hpp>
#include <agentrt/server/server_config.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace server_program {

struct Options {
  agentrt::server::ServerConfig server;
  agentrt::RuntimeConfig runtime;
  std::string llm_url;   ///< empty: the assistant's built-in mock
  /// The gRPC AgentService's port (0: a free one); unset: no gRPC.
  std::optional<std::uint16_t> grpc_port;
  std::string log_format = "text";
  std::string log_level = "info";
  std::chrono::milliseconds drain{10'000};
};

/// The options from `argv` over the environment. On bad input: nullopt, with `error` naming
/// the flag (or variable) and what it takes; `--help` gives nullopt and the usage in `error`
/// with `help` set.
std::optional<Options> parse_options(int argc, char** argv, std::string& error, bool& help);

std::string usage();

/// With --postgres and no --advertise: the node's address from --bind and --port
/// (http://HOST:PORT, an IPv6 host in brackets). Empty when that works; otherwise why not
/// (a wildcard bind or a free port says nothing another client could use).
std::string advertise_default(Options& o);

} // namespace server_program
