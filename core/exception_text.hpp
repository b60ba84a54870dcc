#pragma once

// The text of a caught exception, for an error message or a log line.

#include <exception>
#include <string>

namespace agentrt::detail {

/// `what()` of a std::exception, or "unknown exception".
std::string exception_text(std::exception_ptr ep);

} // namespace agentrt::detail
