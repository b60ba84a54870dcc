#pragma once

// OwnerDirectory: the one active session id of each (agent type, owner), so that every path
// in a host that asks for "this user's session" gets the same one.
//
// Thread-safety: all members may be called concurrently (one mutex; these calls are rare
// next to invokes).

#include <agentrt/session_key.hpp>

#include "runtime/id_minter.hpp"

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace agentrt::detail {

class OwnerDirectory {
public:
  /// The owner's session id, minted with `minter` if it has none. `.second` is true when
  /// it was minted by this call.
  std::pair<std::string, bool> get_or_mint(std::string_view agent, std::string_view owner,
                                           IdMinter& minter);

  /// The session `key` ended (closed or expired): its owner, if any, gets a new id next time.
  void forget(const SessionKey& key);

  std::size_t size() const;

private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string, std::less<>> by_owner_; // mu_
  std::map<SessionKey, std::string> owner_of_;                                       // mu_
};

} // namespace agentrt::detail
