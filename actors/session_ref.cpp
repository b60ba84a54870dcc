#include "actors/session_ref.hpp"

#include "actors/messages.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace agentrt::detail {

void SessionRef::withdraw(std::uint64_t call_id) noexcept {
  if (auto hdl = caf::actor_cast<session_actor>(session_))
    caf::anon_send(hdl, withdraw_atom::value, call_id);
}

void SessionRef::resume(std::shared_ptr<AwaitSlot> slot) noexcept {
  // Through the gate: a completion from a thread that outlives the Runtime touches nothing.
  gate_->pass([&] {
    if (auto hdl = caf::actor_cast<session_actor>(session_))
      caf::anon_send(hdl, resume_atom::value, std::move(slot));
  });
}

} // namespace agentrt::detail
