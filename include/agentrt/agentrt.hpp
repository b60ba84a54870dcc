#pragma once

// The whole public API of agentrt.

#include <agentrt/agent.hpp>
#include <agentrt/async_turn.hpp>
#include <agentrt/await.hpp>
#include <agentrt/call.hpp>
#include <agentrt/config.hpp>
#include <agentrt/errors.hpp>
#include <agentrt/event.hpp>
#include <agentrt/history.hpp>
#include <agentrt/reply.hpp>
#include <agentrt/result.hpp>
#include <agentrt/request.hpp>
#include <agentrt/runtime.hpp>
#include <agentrt/session_key.hpp>
#include <agentrt/session_store.hpp>
#include <agentrt/stats.hpp>
#include <agentrt/task.hpp>
#include <agentrt/tool.hpp>
#include <agentrt/turn.hpp>
