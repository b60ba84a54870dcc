#pragma once

// The message vocabulary between agentrt's actors: atoms, message payloads and the typed
// actor interfaces, so the compiler checks every send against the receiver's protocol.

#include "actors/fwd.hpp"
#include "core/call_state.hpp"
#include "core/conversation_read.hpp"

#include <agentrt/await.hpp>
#include <agentrt/stats.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>

namespace agentrt::detail {

/// A session's activity as its supervisor sees it, without a message per turn: the session
/// writes it, the supervisor reads it when it looks for sessions to expire. Times are
/// nanoseconds on the actor clock.
struct Activity {
  std::atomic<std::int64_t> last_active{0};
  /// True while a turn runs or calls are queued.
  std::atomic<bool> busy{false};
};


/// A call on its way to its session. The session takes the call when it reads the
/// message; if the message is dropped unread instead (the session died of an internal
/// failure before reading it), the ticket's destructor ends the call, so no accepted call
/// is ever left without an outcome. CAF requires message types to be copy-constructible,
/// but on our path (anon_send of a temporary, a handler taking `const&`) it only moves the
/// ticket into the mailbox element, never copies it (checked in CAF 0.17.6): a copy would
/// fire on its own destruction. Not assignable, so no ticket is silently overwritten.
class CallTicket {
public:
  explicit CallTicket(CallPtr call) noexcept : call_(std::move(call)) {
    // nop
  }
  CallTicket(CallTicket&&) noexcept = default; // leaves the source empty
  CallTicket(const CallTicket&) = default;
  CallTicket& operator=(CallTicket&&) = delete;
  CallTicket& operator=(const CallTicket&) = delete;
  ~CallTicket();

  const CallPtr& call() const noexcept {
    return call_;
  }

  /// The session has handled the call (run, queued or ended it): it answers for it now.
  /// Not marked when handling threw, so the dropped message ends the call.
  void handled() const noexcept {
    call_->taken.store(true, std::memory_order_release);
  }

private:
  CallPtr call_;
};


/// Runtime::attach on its way to the session: `follower` is to follow call `call_id` from
/// `after_seq`. If the message is dropped unread (the session ended first), the destructor
/// ends the follower, so no attach is left without an outcome.
struct AttachRequest {
  CallPtr follower;
  std::uint64_t call_id = 0;
  std::uint64_t after_seq = 0;
  bool handled = false; // set by the session

  AttachRequest(CallPtr f, std::uint64_t id, std::uint64_t seq)
    : follower(std::move(f)), call_id(id), after_seq(seq) {
    // nop
  }
  AttachRequest(const AttachRequest&) = delete;
  AttachRequest& operator=(const AttachRequest&) = delete;
  ~AttachRequest() {
    if (!handled)
      follower->end(errc::events_expired,
                    "the session ended before it could find call " + std::to_string(call_id)
                      + "; its calls are no longer kept");
  }
};

using AttachPtr = std::shared_ptr<AttachRequest>;
using DescribePromise = std::shared_ptr<std::promise<std::optional<SessionInfo>>>;
using AwaitSlotPtr = std::shared_ptr<AwaitSlot>;
using TimerFn = std::shared_ptr<std::function<void()>>;
using ClosePromise = std::shared_ptr<std::promise<void>>;

/// Why a supervisor asks a session to expire.
enum class ExpireReason : std::uint8_t {
  idle,     ///< idle past idle_timeout
  lifetime, ///< older than max_lifetime
  cap,      ///< least recently used while over max_sessions
};

// -- atoms ------------------------------------------------------------------------------

using call_atom = caf::atom_constant<caf::atom("call")>;
using turn_done_atom = caf::atom_constant<caf::atom("turn_done")>;
using persisted_atom = caf::atom_constant<caf::atom("persisted")>;
using withdraw_atom = caf::atom_constant<caf::atom("withdraw")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using evict_atom = caf::atom_constant<caf::atom("evict")>;
using declined_atom = caf::atom_constant<caf::atom("declined")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;

// -- interfaces -------------------------------------------------------------------------

/// One session. Calls arrive only while the session is in the SessionDirectory (see there).
using session_actor = caf::typed_actor<
  // A call to run or queue.
  caf::reacts_to<call_atom, CallTicket>,
  // A blocking turn came back from the pool.
  caf::reacts_to<turn_done_atom, TurnJobPtr>,
  // A durable store finished writing a claimed turn (see TurnJob::record).
  caf::reacts_to<persisted_atom, TurnJobPtr>,
  // What a coroutine turn awaited completed: resume it (if it still waits on this slot).
  caf::reacts_to<resume_atom, AwaitSlotPtr>,
  // A coroutine turn's timer is due: run its function.
  caf::reacts_to<timer_atom, TimerFn>,
  // The caller cancelled call <id>: drop it from the queue.
  caf::reacts_to<withdraw_atom, std::uint64_t>,
  // The timer armed for the deadline <ns> (actor clock) fired: end every call past its
  // deadline.
  caf::reacts_to<deadline_atom, std::int64_t>,
  // Expire if still idle and last active at <ns> (ignored for lifetime); <ExpireReason>.
  caf::reacts_to<expire_atom, std::int64_t, std::uint8_t>,
  // End now: fail queued and running calls with session_closed; the promise is kept once
  // the session will not save anything any more.
  caf::reacts_to<close_atom, ClosePromise>,
  // Report SessionInfo through the promise.
  caf::reacts_to<describe_atom, DescribePromise>,
  // Answer a read of the committed history and state.
  caf::reacts_to<read_atom, ConversationReadPtr>,
  // Make a follower of one of the session's recent calls (Runtime::attach).
  caf::reacts_to<attach_atom, AttachPtr>,
  // Shutdown: fail queued calls, let the running turn finish for <ns>, then stop.
  caf::reacts_to<drain_atom, std::int64_t>,
  // Shutdown: the drain time is over.
  caf::reacts_to<stop_atom>>;

/// One supervisor shard: owns the lifecycle of the sessions whose key hashes to it.
using supervisor_actor = caf::typed_actor<
  // Watch this new session.
  caf::reacts_to<adopt_atom, session_actor, ActivityPtr>,
  // Periodic: expire idle and old sessions.
  caf::reacts_to<sweep_atom>,
  // Live sessions exceed max_sessions: expire this shard's least recently used idle one.
  caf::reacts_to<evict_atom>,
  // Session <id> declined to expire for the cap (it had work): no longer an eviction in
  // progress.
  caf::reacts_to<declined_atom, caf::actor_id>>;

} // namespace agentrt::detail

// Payloads that only ever travel inside one process (they hold pointers to shared state).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::CallPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::CallTicket)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::TurnJobPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::AwaitSlotPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::TimerFn)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::DescribePromise)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::ConversationReadPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::AttachPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::ClosePromise)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(agentrt::detail::ActivityPtr)
