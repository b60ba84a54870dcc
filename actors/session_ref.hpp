#pragma once

// SessionRef: how things outside a session reach it without keeping it alive: a cancelled
// call withdraws from its queue (SessionLink), and a completed await resumes its coroutine
// turn (Resumer). Holds the session's address weakly and the runtime's result gate, so it
// is a no-op once the session or the runtime is gone. One per session, made on first need.
//
// Thread-safety: every member may be called from any thread.

#include "core/call_state.hpp"
#include "core/executor.hpp"

#include <agentrt/await.hpp>

#include <caf/actor_addr.hpp>

#include <memory>

namespace agentrt::detail {

class SessionRef final : public SessionLink, public Resumer {
public:
  SessionRef(caf::actor_addr session, std::shared_ptr<ResultGate> gate) noexcept
    : session_(std::move(session)), gate_(std::move(gate)) {
    // nop
  }

  void withdraw(std::uint64_t call_id) noexcept override;
  void resume(std::shared_ptr<AwaitSlot> slot) noexcept override;

private:
  caf::actor_addr session_;
  std::shared_ptr<ResultGate> gate_;
};

} // namespace agentrt::detail
