#include "shared/wire.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

namespace agentrt::server::detail {

std::optional<BusyPolicy> busy_policy_named(std::string_view name) {
  for (auto p : {BusyPolicy::enqueue, BusyPolicy::reject, BusyPolicy::interrupt,
                 BusyPolicy::rollback})
    if (name == to_string(p))
      return p;
  return std::nullopt;
}

std::shared_ptr<spdlog::logger> logger_or_null(std::shared_ptr<spdlog::logger> log,
                                               const char* name) {
  if (log)
    return log;
  return std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
}

} // namespace agentrt::server::detail
