#include "core/conversation_read.hpp"

#include <algorithm>
#include <string>

namespace agentrt::detail {

Result<ConversationView> read_from(const ReadSpec& read, const History& history,
                                   std::uint64_t turns, const StateMap& state) {
  if (read.from > history.size())
    return Error{errc::invalid_range, "history index " + std::to_string(read.from)
                                        + " is past the end: the history has "
                                        + std::to_string(history.size()) + " entries"};
  ConversationView view;
  auto first = history.begin() + static_cast<std::ptrdiff_t>(read.from);
  auto count = std::min<std::size_t>(read.limit, history.size() - read.from);
  view.page.entries.assign(first, first + static_cast<std::ptrdiff_t>(count));
  view.page.from = read.from;
  view.page.total = history.size();
  view.page.turns = turns;
  if (read.with_state)
    view.state = state;
  return view;
}

} // namespace agentrt::detail
