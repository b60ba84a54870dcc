#pragma once

// ConversationRead: one read of a session's committed history and state (Runtime::history,
// Runtime::state), answered by the live session or from a stored copy. `read_from` is the
// one place that checks the range and cuts the page, whichever answers.

#include <agentrt/history.hpp>
#include <agentrt/result.hpp>

#include <cstdint>
#include <future>
#include <memory>

namespace agentrt::detail {

/// What was read: a page of history, and the state when asked for.
struct ConversationView {
  HistoryPage page;
  StateMap state;
};

/// What is asked: a page of history from `from`, and the state if `with_state`.
struct ReadSpec {
  std::uint64_t from = 0;
  std::size_t limit = 0;
  bool with_state = false;
};

/// A read on its way to a live session.
struct ConversationRead {
  ReadSpec spec;
  /// Kept by whoever answers; broken (never set) if the session ended before it read it.
  std::promise<Result<ConversationView>> answer;
};

using ConversationReadPtr = std::shared_ptr<ConversationRead>;

/// The page `spec` asks for out of `history` (`turns` committed turns) and, if asked, a
/// copy of `state`; invalid_range when `from` is past the end.
Result<ConversationView> read_from(const ReadSpec& spec, const History& history,
                                   std::uint64_t turns, const StateMap& state);

} // namespace agentrt::detail
