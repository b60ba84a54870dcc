#pragma once

// GuardedStore: how the runtime reaches the configured store. It knows the store's kind
// (passivating or durable) and guards every call once: a store may be the host's own, and
// an exception must not escape into an actor (CAF would kill it with the calls it holds) or
// a supervisor shard (its sessions would never expire again). An exception becomes a
// store_failed Error naming the operation and the exception's text, and is logged.
//
// Thread-safety: as the wrapped store's (the guard adds no state but the logger).

#include <agentrt/session_store.hpp>

#include <memory>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::detail {

class GuardedStore {
public:
  /// Throws std::invalid_argument when `store` is neither a PassivatingStore nor a
  /// DurableStore.
  GuardedStore(std::shared_ptr<SessionStore> store, std::shared_ptr<spdlog::logger> log);

  /// True for a durable store (every turn is committed to it before its reply).
  bool durable() const noexcept {
    return durable_ != nullptr;
  }

  Result<std::optional<StoredSession>> load(const SessionKey& key) noexcept;
  /// A copy of the stored session, left in the store.
  Result<std::optional<StoredSession>> read(const SessionKey& key) noexcept;
  Result<void> erase(const SessionKey& key) noexcept;
  Result<OwnerSession> owner_session(std::string_view agent, std::string_view owner,
                                     const std::string& candidate) noexcept;
  Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point created_before,
                                          std::chrono::system_clock::time_point active_before) noexcept;

  /// Hands a session to a passivating store (a no-op success for a durable one, which has
  /// every turn already).
  Result<void> put(StoredSession& session) noexcept;

  /// Commits a turn to a durable store; requires durable(). `done` runs exactly once: with
  /// store_failed at once if the store throws before taking the record, never a second
  /// time if it throws after calling `done`.
  void commit(std::shared_ptr<const TurnRecord> record, std::function<void(Result<void>)> done);

  /// Whether this node still holds the session's lease (true for a store without leases,
  /// and when the store throws: its commit, fenced, will say).
  bool holds(const SessionKey& key) const noexcept;

  /// Lets the session's lease go (a no-op for a store without leases); failures are logged.
  void release(const SessionKey& key) noexcept;

private:
  template <class R, class Op>
  R guard(const char* what, Op&& op) noexcept;

  std::shared_ptr<SessionStore> store_;
  PassivatingStore* passivating_ = nullptr;
  DurableStore* durable_ = nullptr;
  std::shared_ptr<spdlog::logger> log_;
};

} // namespace agentrt::detail
