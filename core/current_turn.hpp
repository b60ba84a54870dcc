#pragma once

// CurrentTurn: which session's handler runs on this thread, if any. Set around a turn's
// factory and handler (core/session_data.cpp), read by the Runtime to refuse a wait that
// could never end: a handler waiting on its own session, which is busy running it.

#include <agentrt/session_key.hpp>

namespace agentrt::detail {

struct CurrentTurn {
  /// The session running a handler on this thread; null outside handlers.
  const SessionKey* key = nullptr;
  /// True when that handler runs on the blocking pool (the session actor is free meanwhile).
  bool blocking = false;
};

/// This thread's current turn.
CurrentTurn& current_turn() noexcept;

/// Marks this thread as running a handler of `key` for its scope (nests: restores the
/// previous value).
class TurnScope {
public:
  TurnScope(const SessionKey& key, bool blocking) noexcept : saved_(current_turn()) {
    current_turn() = CurrentTurn{&key, blocking};
  }
  ~TurnScope() {
    current_turn() = saved_;
  }
  TurnScope(const TurnScope&) = delete;
  TurnScope& operator=(const TurnScope&) = delete;

private:
  CurrentTurn saved_;
};

} // namespace agentrt::detail
