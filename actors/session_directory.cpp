#include "actors/session_directory.hpp"

#include <functional>

namespace agentrt::detail {

std::size_t key_hash(std::string_view agent, std::string_view session_id) noexcept {
  std::hash<std::string_view> h;
  auto a = h(agent);
  auto b = h(session_id);
  // Combine so (a, b) and (b, a) differ; the multiplier spreads low bits for the shards.
  return (a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
}

std::optional<session_actor> SessionDirectory::find(const SessionKey& key,
                                                    std::size_t hash) const {
  auto& sh = shard(hash);
  std::shared_lock lock{sh.mu};
  if (auto i = sh.map.find(KeyView{key.agent, key.session_id}); i != sh.map.end() && i->second)
    return i->second;
  return std::nullopt;
}

void SessionDirectory::forget(const SessionKey& key, std::size_t hash, caf::actor_id id) {
  auto& sh = shard(hash);
  std::unique_lock lock{sh.mu};
  if (auto i = sh.map.find(KeyView{key.agent, key.session_id});
      i != sh.map.end() && i->second && i->second.id() == id)
    sh.map.erase(i);
}

std::optional<session_actor> SessionDirectory::begin_close(const SessionKey& key,
                                                           std::size_t hash) {
  auto& sh = shard(hash);
  std::unique_lock lock{sh.mu};
  auto& slot = sh.map[key];
  std::optional<session_actor> live;
  if (slot)
    live = std::move(slot);
  slot = session_actor{};
  return live;
}

void SessionDirectory::end_close(const SessionKey& key, std::size_t hash) {
  auto& sh = shard(hash);
  std::unique_lock lock{sh.mu};
  if (auto i = sh.map.find(KeyView{key.agent, key.session_id}); i != sh.map.end() && !i->second)
    sh.map.erase(i);
}

std::vector<session_actor> SessionDirectory::close_all() {
  std::vector<session_actor> result;
  for (auto& sh : shards_) {
    std::unique_lock lock{sh.mu};
    sh.closed = true;
    for (auto& [key, hdl] : sh.map)
      if (hdl)
        result.push_back(std::move(hdl));
    sh.map.clear();
  }
  return result;
}

} // namespace agentrt::detail
