#pragma once

// The chat page served at `/`: server/page/chat.html, embedded at build time.

#include <string_view>

namespace agentrt::server::detail {

std::string_view chat_page() noexcept;

} // namespace agentrt::server::detail
