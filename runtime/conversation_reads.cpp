// Runtime::history and Runtime::state: a session's committed conversation, read from its
// live session if it has one, from the store if not.

#include "runtime/runtime_core.hpp"

#include <agentrt/runtime.hpp>

#include "actors/messages.hpp"
#include "core/validation.hpp"
#include "runtime/refusals.hpp"
#include "stores/guarded_store.hpp"

#include <caf/send.hpp>

#include <string>

namespace agentrt::detail {

Result<ConversationView> RuntimeCore::read(const SessionKey& key, std::uint64_t from,
                                           std::size_t limit, bool with_state) {
  if (!registry.contains(key.agent))
    return unknown_agent(key.agent);
  if (!valid_session_id(key.session_id))
    return invalid_session_id(key.session_id);
  if (limit > Runtime::max_history_page)
    return Error{errc::invalid_range, "a history page holds at most "
                                        + std::to_string(Runtime::max_history_page)
                                        + " entries; " + std::to_string(limit) + " asked"};
  if (auto no = waiting_not_allowed(key, with_state ? "Runtime::state" : "Runtime::history",
                                    false))
    return std::move(*no);
  auto hash = key_hash(key.agent, key.session_id);
  const ReadSpec spec{from, limit, with_state};
  // The live session answers in its order; one that ends meanwhile (expiry hands its data
  // to the store before it leaves the directory) breaks the promise, and the store has it.
  // A session activated while the store was read took its data out of a passivating
  // store: ask the live one again.
  auto from_live = [&]() -> std::optional<Result<ConversationView>> {
    auto hdl = directory_.find(key, hash);
    if (!hdl)
      return std::nullopt;
    auto read = std::make_shared<ConversationRead>();
    read->spec = spec;
    auto answer = read->answer.get_future();
    caf::anon_send(*hdl, read_atom::value, std::move(read));
    try {
      return answer.get();
    } catch (const std::future_error&) {
      return std::nullopt; // it ended before it read the message
    }
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (auto live = from_live())
      return std::move(*live);
    auto stored = store_->read(key);
    if (!stored)
      return Error{errc::store_failed,
                   "the session store could not read the session: " + stored.error().message};
    if (auto& s = *stored)
      return read_from(spec, s->history, s->turns, s->state);
    if (!directory_.find(key, hash))
      break; // neither live nor stored
  }
  return Error{errc::not_found, "no session " + clip(key.agent, 80) + "/"
                                  + clip(key.session_id, 160) + ", live or stored"};
}

} // namespace agentrt::detail
