#pragma once

// WaitGraph: which sessions are waiting on which. A turn of session A that waits for a call
// to session B (Turn::ask, AsyncTurn::ask, Runtime::ask from a handler) is an edge A -> B
// for as long as it waits. A session runs one turn at a time, so a cycle of waits is a
// deadlock: B's call waits behind B's running turn, which waits on A, whose running turn
// waits on B. Adding the edge that would close a cycle is refused, naming the cycle, so
// the call fails at once instead of at its timeout. This catches chains that come back to
// themselves (A -> B -> A) and chains of different calls that cross (A waits on B in one
// call while B waits on A in another), for blocking and coroutine turns alike.
//
// Thread-safety: every member may be called from any thread.

#include <agentrt/session_key.hpp>

#include "core/thread_annotations.hpp"

#include <map>
#include <optional>
#include <vector>

namespace agentrt::detail {

class WaitGraph;

/// One edge, removed when the token goes. Move-only.
class WaitEdge {
public:
  WaitEdge() noexcept = default;
  WaitEdge(WaitGraph* graph, SessionKey waiter, SessionKey target) noexcept
    : graph_(graph), waiter_(std::move(waiter)), target_(std::move(target)) {
    // nop
  }
  WaitEdge(WaitEdge&& other) noexcept;
  WaitEdge& operator=(WaitEdge&& other) noexcept;
  WaitEdge(const WaitEdge&) = delete;
  WaitEdge& operator=(const WaitEdge&) = delete;
  ~WaitEdge();

  /// Removes the edge now (idempotent).
  void release() noexcept;

private:
  WaitGraph* graph_ = nullptr;
  SessionKey waiter_;
  SessionKey target_;
};

class WaitGraph {
public:
  /// Adds `waiter -> target` and returns its token, or, when the edge would close a cycle,
  /// adds nothing and returns the cycle (waiter, target, ..., waiter).
  std::optional<std::vector<SessionKey>> add(const SessionKey& waiter, const SessionKey& target,
                                             WaitEdge& token);

  /// The edges now, for tests: waiter -> (target -> count).
  std::map<SessionKey, std::map<SessionKey, int>> edges() const;

private:
  friend class WaitEdge;
  void remove(const SessionKey& waiter, const SessionKey& target) noexcept;
  /// A path from `from` to `to` along the edges (from first, to last), if any.
  std::optional<std::vector<SessionKey>> path(const SessionKey& from, const SessionKey& to) const
    AGENTRT_REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<SessionKey, std::map<SessionKey, int>> edges_ AGENTRT_GUARDED_BY(mu_);
};

} // namespace agentrt::detail
