#pragma once

// The gRPC examples' agent and tool (also served over HTTP):
//
// echo-agent (coroutine): answers "echo: <input> [k=v, ...] (task N)", where the brackets
// list the task's params (sorted; omitted when there are none) and N is how many tasks its
// session has seen, this one included (session state "tasks"). It streams that answer as it
// builds it: "echo: ", each word of the input with the space after it, then the rest.
//   param delay_ms (0-60000): waits that long (a timer, no thread) before each chunk
//   param fail (text): fails the task with that text, after its chunks
//
// weather (tool): a made-up forecast. Arguments: a JSON object with "location" (required)
// and "days" ("1".."7", default "1"); operation "" or "forecast". Its result is JSON:
// {"session_id":..., "location":..., "days":N, "forecast":[{"day":1, "summary":...,
// "high_c":..., "low_c":...}, ...]}, the same for the same location. Bad arguments fail it
// (tool_failed) with a message that says which.

#include <agentrt/agentrt.hpp>

namespace server_program {

agentrt::Task<std::string> echo_agent(agentrt::AsyncTurn& t);

agentrt::ToolResult weather(const agentrt::ToolRequest& request);

} // namespace server_program
