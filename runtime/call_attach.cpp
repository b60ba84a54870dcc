// Runtime::attach: a new handle on a call that runs or ended a short while ago, which
// receives its events after a given seq, then its outcome (a client re-attaching after its
// stream broke, SSE Last-Event-ID).

#include "runtime/runtime_core.hpp"

#include "actors/messages.hpp"
#include "core/call_state.hpp"
#include "core/validation.hpp"
#include "runtime/refusals.hpp"

#include <caf/send.hpp>

#include <string>

namespace agentrt::detail {

Result<Call> RuntimeCore::attach(const SessionKey& key, std::uint64_t call_id,
                                 std::uint64_t after_seq,
                                 std::function<void(const Event&)> on_event) {
  if (!accepting_.load(std::memory_order_acquire))
    return shutting_down();
  if (!registry.contains(key.agent))
    return unknown_agent(key.agent);
  if (!valid_session_id(key.session_id))
    return invalid_session_id(key.session_id);
  auto hdl = directory_.find(key, key_hash(key.agent, key.session_id));
  if (!hdl)
    return Error{errc::not_found, "no live session " + clip(key.agent, 80) + "/"
                                    + clip(key.session_id, 160)
                                    + ": its calls are no longer kept"};
  Request r;
  r.agent = key.agent;
  r.session_id = key.session_id;
  r.on_event = std::move(on_event);
  // It follows the call until that call ends: its own deadline never comes first.
  auto follower = make_call_state(call_id, std::move(r), Clock::now(),
                                              std::chrono::hours(24 * 365));
  caf::anon_send(*hdl, attach_atom::value,
                 std::make_shared<AttachRequest>(follower, call_id, after_seq));
  return Call{std::move(follower)};
}

} // namespace agentrt::detail
