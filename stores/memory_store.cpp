// The in-memory session store: passivating. A session is handed over when it expires and
// handed back (taken out) when it is called again, so it costs nothing per turn and holds
// no second copy of a live session.

#include <agentrt/errors.hpp>
#include <agentrt/session_store.hpp>

#include <map>
#include <mutex>

namespace agentrt {

namespace {

class MemoryStore final : public SessionStore {
public:
  bool write_through() const noexcept override {
    return false;
  }

  std::error_code load(const SessionKey& key, std::optional<StoredSession>& out) override {
    std::lock_guard guard{mu_};
    auto i = sessions_.find(key);
    if (i == sessions_.end())
      return {};
    out = std::move(i->second);
    sessions_.erase(i); // the session is live again: the runtime holds it now
    return {};
  }

  std::error_code save(const TurnRecord& record) override {
    std::lock_guard guard{mu_};
    auto& s = sessions_[record.key];
    s.key = record.key;
    s.history.resize(record.first_index);
    s.history.insert(s.history.end(), record.entries.begin(), record.entries.end());
    for (auto& [k, v] : record.state_writes) {
      if (v)
        s.state.insert_or_assign(k, *v);
      else
        s.state.erase(k);
    }
    s.turns = record.turns;
    s.created = record.created;
    s.last_activity = record.last_activity;
    return {};
  }

  std::error_code put(StoredSession& session) override {
    std::lock_guard guard{mu_};
    auto key = session.key;
    sessions_.insert_or_assign(std::move(key), std::move(session));
    return {};
  }

  std::error_code erase(const SessionKey& key) override {
    std::lock_guard guard{mu_};
    sessions_.erase(key);
    if (auto i = owner_of_.find(key); i != owner_of_.end()) {
      owners_.erase({key.agent, i->second.owner});
      owner_of_.erase(i);
    }
    return {};
  }

  std::error_code owner_session(std::string_view agent, std::string_view owner,
                                const std::string& candidate, std::string& out,
                                bool& created) override {
    std::lock_guard guard{mu_};
    std::pair<std::string, std::string> k{std::string{agent}, std::string{owner}};
    if (auto i = owners_.find(k); i != owners_.end()) {
      out = i->second;
      created = false;
      return {};
    }
    owner_of_.emplace(SessionKey{k.first, candidate},
                      Mapping{k.second, std::chrono::system_clock::now()});
    owners_.emplace(std::move(k), candidate);
    out = candidate;
    created = true;
    return {};
  }

  std::error_code list_by_owner(std::string_view owner, std::vector<SessionKey>& out) override {
    std::lock_guard guard{mu_};
    for (auto& [k, id] : owners_)
      if (k.second == owner)
        out.push_back(SessionKey{k.first, id});
    return {};
  }

  std::error_code expired(std::chrono::system_clock::time_point created_before,
                          std::chrono::system_clock::time_point active_before,
                          std::vector<SessionKey>& out) override {
    std::lock_guard guard{mu_};
    for (auto& [key, s] : sessions_)
      if (s.created < created_before && s.last_activity < active_before)
        out.push_back(key);
    // An owner's session that was never stored (never used, or live right now): its
    // mapping ages from when it was made. The runtime erases only keys no live session holds.
    for (auto& [key, m] : owner_of_)
      if (m.created < created_before && sessions_.count(key) == 0)
        out.push_back(key);
    return {};
  }

private:
  struct Mapping {
    std::string owner;
    std::chrono::system_clock::time_point created;
  };

  std::mutex mu_;
  std::map<SessionKey, StoredSession> sessions_; // guarded by mu_
  // (agent, owner) -> session id, and back; guarded by mu_
  std::map<std::pair<std::string, std::string>, std::string> owners_;
  std::map<SessionKey, Mapping> owner_of_;
};

} // namespace

std::shared_ptr<SessionStore> make_memory_store() {
  return std::make_shared<MemoryStore>();
}

} // namespace agentrt
