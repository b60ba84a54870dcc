#pragma once

// How a turn records a tool call in its draft and its stream, whichever kind of turn makes
// it: a `tool_call` history entry and event before, a `tool_result` entry and event after.

#include <agentrt/tool.hpp>

#include "core/fwd.hpp"

#include <string>

namespace agentrt::detail {

void record_tool_call(TurnContext& ctx, const std::string& tool, const std::string& arguments,
                      const std::string& operation);

} // namespace agentrt::detail
