#pragma once

// SessionDirectory: the host-side map from session key to live session actor, sharded by
// key hash. It is both the fast path (a hit sends straight to the session: no supervisor
// hop, no scoped_actor) and the single-flight point (a miss spawns the session under the
// shard's exclusive lock, so one key never gets two sessions).
//
// The rule that makes expiry safe: a call is only ever enqueued to a session while holding
// its shard lock and finding the session in the map. A session leaves the map (`retire`)
// only under the exclusive lock and only with an empty mailbox, so once it is out no call
// can reach it and none is left behind: nothing is lost and no stale handle exists to retry.
// Sending under the lock also keeps each caller thread's calls in order: a caller's second
// call cannot overtake its first through another route.
//
// Thread-safety: all members may be called concurrently.

#include "actors/messages.hpp"

#include <agentrt/session_key.hpp>

#include <caf/send.hpp>

#include <array>
#include <cstddef>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace agentrt::detail {

/// Hash of a session key; picks the directory shard, metrics stripe and supervisor.
std::size_t key_hash(std::string_view agent, std::string_view session_id) noexcept;

class SessionDirectory {
public:
  static constexpr std::size_t shard_count = 64;

  enum class Dispatch {
    sent,    ///< the call is in its session's mailbox
    refused, ///< no session, and `spawn` made none (unknown agent)
    closing, ///< the key's session is being closed (see begin_close)
    closed,  ///< the directory is closed (shutdown)
  };

  /// Sends `call` to the live session of its key, spawning one with `spawn()` (which returns
  /// an invalid handle to refuse) when there is none.
  template <class Spawn>
  Dispatch dispatch(const CallPtr& call, std::size_t hash, Spawn&& spawn) {
    auto& sh = shard(hash);
    KeyView key{call->agent, call->session_id};
    {
      std::shared_lock lock{sh.mu};
      if (sh.closed)
        return Dispatch::closed;
      if (auto i = sh.map.find(key); i != sh.map.end()) {
        if (!i->second)
          return Dispatch::closing;
        caf::anon_send(i->second, call_atom::value, CallTicket{call});
        return Dispatch::sent;
      }
    }
    std::unique_lock lock{sh.mu};
    if (sh.closed)
      return Dispatch::closed;
    auto i = sh.map.find(key);
    if (i != sh.map.end() && !i->second)
      return Dispatch::closing;
    if (i == sh.map.end()) {
      session_actor hdl = spawn();
      if (!hdl)
        return Dispatch::refused;
      i = sh.map.emplace(SessionKey{call->agent, call->session_id}, std::move(hdl)).first;
    }
    caf::anon_send(i->second, call_atom::value, CallTicket{call});
    return Dispatch::sent;
  }

  /// Removes `self` as the session of `key` if it still is and `mailbox_empty()` holds
  /// (evaluated under the exclusive lock, so no call can slip in). True if removed.
  template <class Pred>
  bool retire(const SessionKey& key, std::size_t hash, const caf::actor_addr& self,
              Pred&& mailbox_empty) {
    auto& sh = shard(hash);
    std::unique_lock lock{sh.mu};
    auto i = sh.map.find(KeyView{key.agent, key.session_id});
    if (i == sh.map.end() || !i->second || i->second.address() != self || !mailbox_empty())
      return false;
    sh.map.erase(i);
    return true;
  }

  /// Removes `key`'s entry if it still names actor `id` (a session that died without
  /// retiring, e.g. from an unexpected exception), so later calls start a new session.
  void forget(const SessionKey& key, std::size_t hash, caf::actor_id id);

  /// Runs `f` under the shard's write lock if `key` has no entry (no live session, no close
  /// in progress), so no session for it can start meanwhile. True if `f` ran.
  template <class F>
  bool run_if_absent(const SessionKey& key, std::size_t hash, F&& f) {
    auto& sh = shard(hash);
    std::unique_lock lock{sh.mu};
    if (sh.map.find(KeyView{key.agent, key.session_id}) != sh.map.end())
      return false;
    f();
    return true;
  }

  /// The live session of `key`, if any.
  std::optional<session_actor> find(const SessionKey& key, std::size_t hash) const;

  /// Takes the session of `key` out of the directory (close) and leaves a tombstone in its
  /// place: until `end_close`, calls for the key fail with `session_closed` instead of
  /// starting a new session that could read what the close is about to erase. Returns the
  /// live session, if any.
  std::optional<session_actor> begin_close(const SessionKey& key, std::size_t hash);

  /// Removes the tombstone left by `begin_close`: later calls start afresh.
  void end_close(const SessionKey& key, std::size_t hash);

  /// Closes every shard (no more dispatch) and returns all live sessions.
  std::vector<session_actor> close_all();

private:
  struct KeyView {
    std::string_view agent;
    std::string_view session_id;
  };

  // Deliberately not noexcept: libstdc++ then stores each node's hash, so a lookup never
  // rehashes the string keys of the other nodes in its bucket (measured: 5% of a call).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const KeyView& k) const {
      return key_hash(k.agent, k.session_id);
    }
    std::size_t operator()(const SessionKey& k) const {
      return key_hash(k.agent, k.session_id);
    }
  };

  struct Equal {
    using is_transparent = void;
    static KeyView view(const SessionKey& k) noexcept {
      return {k.agent, k.session_id};
    }
    static KeyView view(const KeyView& k) noexcept {
      return k;
    }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      auto x = view(a);
      auto y = view(b);
      return x.agent == y.agent && x.session_id == y.session_id;
    }
  };

  struct alignas(64) Shard {
    mutable std::shared_mutex mu;
    // An invalid handle is a tombstone (a close in progress).
    std::unordered_map<SessionKey, session_actor, Hash, Equal> map; // guarded by mu
    bool closed = false;                                            // guarded by mu
  };

  Shard& shard(std::size_t hash) noexcept {
    return shards_[hash % shard_count];
  }
  const Shard& shard(std::size_t hash) const noexcept {
    return shards_[hash % shard_count];
  }

  std::array<Shard, shard_count> shards_;
};

} // namespace agentrt::detail
