#pragma once

// GuardedStore: how the runtime calls a host's SessionStore. The docs invite hosts to write
// and wrap stores, and a store can throw; an exception must not escape into an actor (CAF
// would kill it with the calls it holds) or a supervisor shard (its sessions would never
// expire again). Every operation is guarded here, once: an exception becomes
// `errc::store_failed` for the operation concerned, and is logged with its text.
//
// Thread-safety: as the wrapped store's (the guard adds no state but the logger).

#include <agentrt/session_store.hpp>

#include <memory>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt::detail {

class GuardedStore final : public SessionStore {
public:
  GuardedStore(std::shared_ptr<SessionStore> inner, std::shared_ptr<spdlog::logger> log);

  bool write_through() const noexcept override;
  std::error_code load(const SessionKey& key, std::optional<StoredSession>& out) override;
  std::error_code save(const TurnRecord& record) override;
  /// `done` runs exactly once: with store_failed at once if the store throws before it
  /// took the record, never a second time if it throws after calling `done`.
  void save_async(std::shared_ptr<const TurnRecord> record,
                  std::function<void(std::error_code)> done) override;
  std::error_code put(StoredSession& session) override;
  std::error_code erase(const SessionKey& key) override;
  std::error_code owner_session(std::string_view agent, std::string_view owner,
                                const std::string& candidate, std::string& out,
                                bool& created) override;
  std::error_code list_by_owner(std::string_view owner, std::vector<SessionKey>& out) override;
  std::error_code expired(std::chrono::system_clock::time_point created_before,
                          std::chrono::system_clock::time_point active_before,
                          std::vector<SessionKey>& out) override;

private:
  /// Runs `op`; an exception is logged (naming `what`) and becomes store_failed.
  template <class Op>
  std::error_code guard(const char* what, Op&& op) noexcept;

  std::shared_ptr<SessionStore> inner_;
  std::shared_ptr<spdlog::logger> log_;
  bool write_through_;
};

} // namespace agentrt::detail
