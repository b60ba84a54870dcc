// The in-memory store: passivating. A session is handed over when it expires and handed
// back (taken out) when it is called again, so it costs nothing per turn and holds no
// second copy of a live session.

#include <agentrt/session_store.hpp>

#include "core/thread_annotations.hpp"

#include <map>

namespace agentrt {

namespace {

using detail::Mutex;
using detail::MutexLock;

class MemoryStore final : public PassivatingStore {
public:
  Result<std::optional<StoredSession>> load(const SessionKey& key) override {
    MutexLock guard{mu_};
    auto i = sessions_.find(key);
    if (i == sessions_.end())
      return std::optional<StoredSession>{};
    std::optional<StoredSession> out{std::move(i->second)};
    sessions_.erase(i); // the session is live again: the runtime holds it now
    return out;
  }

  Result<std::optional<StoredSession>> read(const SessionKey& key) override {
    MutexLock guard{mu_};
    auto i = sessions_.find(key);
    if (i == sessions_.end())
      return std::optional<StoredSession>{};
    return std::optional<StoredSession>{i->second};
  }

  Result<void> put(StoredSession& session) override {
    MutexLock guard{mu_};
    auto key = session.key;
    sessions_.insert_or_assign(std::move(key), std::move(session));
    return {};
  }

  Result<void> erase(const SessionKey& key) override {
    MutexLock guard{mu_};
    sessions_.erase(key);
    if (auto i = owner_of_.find(key); i != owner_of_.end()) {
      owners_.erase({key.agent, i->second.owner});
      owner_of_.erase(i);
    }
    return {};
  }

  Result<OwnerSession> owner_session(std::string_view agent, std::string_view owner,
                                     const std::string& candidate) override {
    MutexLock guard{mu_};
    std::pair<std::string, std::string> k{std::string{agent}, std::string{owner}};
    if (auto i = owners_.find(k); i != owners_.end())
      return OwnerSession{i->second, false};
    owner_of_.emplace(SessionKey{k.first, candidate},
                      Mapping{k.second, std::chrono::system_clock::now()});
    owners_.emplace(std::move(k), candidate);
    return OwnerSession{candidate, true};
  }

  Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point created_before,
                                          std::chrono::system_clock::time_point active_before)
    override {
    MutexLock guard{mu_};
    std::vector<SessionKey> out;
    for (auto& [key, s] : sessions_)
      if (s.created < created_before && s.last_activity < active_before)
        out.push_back(key);
    // An owner's session that was never stored (never used, or live right now): its
    // mapping ages from when it was made. The runtime erases only keys no live session holds.
    for (auto& [key, m] : owner_of_)
      if (m.created < created_before && sessions_.count(key) == 0)
        out.push_back(key);
    return out;
  }

private:
  struct Mapping {
    std::string owner;
    std::chrono::system_clock::time_point created;
  };

  Mutex mu_;
  std::map<SessionKey, StoredSession> sessions_ AGENTRT_GUARDED_BY(mu_);
  // (agent, owner) -> session id, and back
  std::map<std::pair<std::string, std::string>, std::string> owners_ AGENTRT_GUARDED_BY(mu_);
  std::map<SessionKey, Mapping> owner_of_ AGENTRT_GUARDED_BY(mu_);
};

} // namespace

std::shared_ptr<PassivatingStore> make_memory_store() {
  return std::make_shared<MemoryStore>();
}

} // namespace agentrt
