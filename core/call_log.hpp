#pragma once

// CallLog: what a session remembers of its calls beyond the one running: its recent calls
// (running, queued, or ended a short while ago) for Runtime::attach, and its recent request
// ids (Request::request_id) with the call that carried each or the outcome it committed.
// Plain data owned by the session actor, so the rules can be tested without actors.
//
// A request id is remembered while its call may still run, and afterwards only if the call
// committed its turn (completed, or interrupted with its output kept): a call that failed,
// timed out or was cancelled committed nothing, so a retry of it runs anew. Bounded by
// count and age; a call still running is never forgotten.
//
// Thread-safety: none (the session actor's).

#include <agentrt/reply.hpp>
#include <agentrt/request.hpp>
#include <agentrt/session_store.hpp>

#include "core/fwd.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace agentrt::detail {

/// A fingerprint of a request's input and params (FNV-1a, stable across processes and
/// versions: it is stored with the turn).
std::uint64_t request_fingerprint(const std::string& input, const Params& params);

class CallLog {
public:
  using Clock = std::chrono::steady_clock;
  using SysClock = std::chrono::system_clock;

  struct Limits {
    std::size_t calls = 16;
    Clock::duration calls_for = std::chrono::minutes(1);
    std::size_t request_ids = 64;
    SysClock::duration request_ttl = std::chrono::hours(24);
  };

  /// `limits` must outlive the log (the runtime's, shared by every session). An idle
  /// session's log is one pointer and an empty one: its lists are made on first use.
  CallLog() = default;
  explicit CallLog(const Limits* limits) : limits_(limits) {
    // nop
  }

  // -- recent calls -------------------------------------------------------------------------

  /// Remembers a resumable call that reached the session. Now and then (at twice the
  /// count) forgets the ones ended too long ago and the oldest ended ones beyond the count;
  /// `find` never returns one ended too long ago.
  void remember(const CallPtr& call, Clock::time_point now);

  /// The call `id` if it is running, queued or ended within `calls_for`; nullptr if the
  /// session does not know it, and `expired` set when it knew it but let it go.
  CallPtr find(std::uint64_t id, Clock::time_point now, bool& expired);

  // -- request ids --------------------------------------------------------------------------

  /// What the session knows of a request id.
  struct Seen {
    enum class Kind { unknown, running, committed, conflict } kind = Kind::unknown;
    CallPtr call;         ///< running: the call with this id
    Reply outcome;        ///< committed: its reply (output, turn, error)
  };

  /// Looks up `request_id` for a request with `fingerprint` (forgetting what is too old).
  Seen lookup(const std::string& request_id, std::uint64_t fingerprint, SysClock::time_point now);

  /// Records `call` as the carrier of `request_id`.
  void begin(const std::string& request_id, std::uint64_t fingerprint, const CallPtr& call,
             SysClock::time_point now);

  /// Takes back the request ids of a stored session (oldest first).
  void restore(const std::vector<StoredRequest>& requests, SysClock::time_point now);

  /// The committed request ids, oldest first, for storing the session.
  std::vector<StoredRequest> committed();

  std::size_t request_ids() const noexcept {
    return lists_ ? lists_->requests.size() : 0;
  }

private:
  /// Ended longer than calls_for ago.
  bool too_old(const CallState& call, Clock::time_point now) const;
public:
  struct RequestEntry {
    std::string request_id;
    std::uint64_t fingerprint = 0;
    CallPtr call; ///< until its outcome is known
    StoredRequest committed;
    SysClock::time_point at;
    bool dead = false; ///< its call committed nothing: as if it were not there
  };

private:

  /// Settles the entries whose calls ended, from the first that may still run.
  void settle_ended();
  /// Drops the oldest entries beyond the count, past the ttl, or dead.
  void bound(SysClock::time_point now);

  struct Lists {
    std::vector<CallPtr> recent;          // oldest first
    std::deque<RequestEntry> requests;    // oldest first
    std::size_t unsettled = 0;            // requests[0, unsettled) hold no running call
  };
  Lists& lists();

  /// The runtime's limits, or the defaults.
  const Limits& limits() const noexcept;

  const Limits* limits_ = nullptr;
  std::unique_ptr<Lists> lists_;
};

} // namespace agentrt::detail
