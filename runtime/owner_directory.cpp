#include "runtime/owner_directory.hpp"

namespace agentrt::detail {

std::pair<std::string, bool> OwnerDirectory::get_or_mint(std::string_view agent,
                                                         std::string_view owner,
                                                         IdMinter& minter) {
  std::pair<std::string, std::string> k{std::string{agent}, std::string{owner}};
  std::lock_guard guard{mu_};
  if (auto i = by_owner_.find(k); i != by_owner_.end())
    return {i->second, false};
  auto id = minter.mint();
  owner_of_.emplace(SessionKey{k.first, id}, k.second);
  by_owner_.emplace(std::move(k), id);
  return {id, true};
}

void OwnerDirectory::forget(const SessionKey& key) {
  std::lock_guard guard{mu_};
  auto i = owner_of_.find(key);
  if (i == owner_of_.end())
    return;
  by_owner_.erase(std::pair<std::string, std::string>{key.agent, i->second});
  owner_of_.erase(i);
}

std::size_t OwnerDirectory::size() const {
  std::lock_guard guard{mu_};
  return by_owner_.size();
}

} // namespace agentrt::detail
