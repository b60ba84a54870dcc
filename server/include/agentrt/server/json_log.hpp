#pragma once

// JSON lines for the server's log: one object per line, for log shippers.

#include <memory>

namespace spdlog {
class formatter;
} // namespace spdlog

namespace agentrt::server {

/// A formatter writing `{"ts":"...","level":"info","logger":"...","msg":"..."}` per line,
/// with the message escaped. Set it on a logger or a sink: `logger->set_formatter(...)`.
std::unique_ptr<spdlog::formatter> make_json_formatter();

} // namespace agentrt::server
