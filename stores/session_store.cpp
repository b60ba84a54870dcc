// What every SessionStore has unless it says otherwise.

#include <agentrt/session_store.hpp>

namespace agentrt {

Result<std::optional<StoredSession>> SessionStore::read(const SessionKey&) {
  return Error{errc::store_failed,
               "this session store cannot be read without taking the session out of it "
               "(implement SessionStore::read)"};
}

} // namespace agentrt
