// The in-memory store: passivating. A session is handed over when it expires and handed
// back (taken out) when it is called again, so it costs nothing per turn and holds no
// second copy of a live session. A session at rest is kept packed (stores/packed_session):
// one byte string instead of its containers, so resting sessions cost little memory.

#include <agentrt/session_store.hpp>

#include "core/thread_annotations.hpp"
#include "stores/packed_session.hpp"

#include <functional>
#include <map>
#include <unordered_map>

namespace agentrt {

namespace {

using detail::Mutex;
using detail::MutexLock;

class MemoryStore final : public PassivatingStore {
public:
  Result<std::optional<StoredSession>> load(const SessionKey& key) override {
    Packed p;
    {
      MutexLock guard{mu_};
      auto i = sessions_.find(key);
      if (i == sessions_.end())
        return std::optional<StoredSession>{};
      p = std::move(i->second);
      sessions_.erase(i); // the session is live again: the runtime holds it now
    }
    try {
      return std::optional<StoredSession>{
        detail::unpack_session(key, p.created, p.last_activity, p.bytes)};
    } catch (...) { // not handed over after all: it stays here for the next attempt
      MutexLock guard{mu_};
      sessions_.try_emplace(key, std::move(p));
      throw;
    }
  }

  Result<std::optional<StoredSession>> read(const SessionKey& key) override {
    Packed p;
    {
      MutexLock guard{mu_};
      auto i = sessions_.find(key);
      if (i == sessions_.end())
        return std::optional<StoredSession>{};
      p = i->second;
    }
    return std::optional<StoredSession>{
      detail::unpack_session(key, p.created, p.last_activity, p.bytes)};
  }

  Result<void> put(StoredSession& session) override {
    Packed p{session.created, session.last_activity, detail::pack_session(session)};
    MutexLock guard{mu_};
    sessions_.insert_or_assign(session.key, std::move(p));
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

  /// A session at rest: the times the store sweeps by, and the rest packed.
  struct Packed {
    std::chrono::system_clock::time_point created;
    std::chrono::system_clock::time_point last_activity;
    std::string bytes;
  };

  struct KeyHash {
    std::size_t operator()(const SessionKey& k) const noexcept {
      std::hash<std::string> h;
      return h(k.agent) * 31 + h(k.session_id);
    }
  };

  Mutex mu_;
  std::unordered_map<SessionKey, Packed, KeyHash> sessions_ AGENTRT_GUARDED_BY(mu_);
  // (agent, owner) -> session id, and back
  std::map<std::pair<std::string, std::string>, std::string> owners_ AGENTRT_GUARDED_BY(mu_);
  std::map<SessionKey, Mapping> owner_of_ AGENTRT_GUARDED_BY(mu_);
};

} // namespace

std::shared_ptr<PassivatingStore> make_memory_store() {
  return std::make_shared<MemoryStore>();
}

} // namespace agentrt
