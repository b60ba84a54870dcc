#pragma once

// What the HTTP and gRPC front ends both read from their clients and both need to start:
// busy policy names, and a logger that is never null.

#include <agentrt/request.hpp>

#include <memory>
#include <optional>
#include <string_view>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::server::detail {

/// The policy a client names: "enqueue", "reject", "interrupt", "rollback"; nullopt else.
std::optional<BusyPolicy> busy_policy_named(std::string_view name);

/// `log`, or a logger that drops everything when it is null.
std::shared_ptr<spdlog::logger> logger_or_null(std::shared_ptr<spdlog::logger> log,
                                               const char* name);

} // namespace agentrt::server::detail
