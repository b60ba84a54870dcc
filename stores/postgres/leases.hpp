#pragma once

// Leases: this node's lease table (session -> the epoch it claimed, and the local deadline
// by which it must have renewed), and the thread that renews every lease in it.
//
// A local deadline is the steady time the claim (or renewal) was SENT, plus the lease, less
// a margin (a tenth): the database started the lease after that moment, so the node stops
// serving a session (holds() false) before the database lets another node take it, even if
// the renewals stop getting through.
//
// Thread-safety: LeaseTable may be used from any thread (its own mutex). LeaseRenewer's
// thread starts in the constructor and stops (without a last renewal) in the destructor.

#include <agentrt/session_key.hpp>

#include "core/thread_annotations.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace agentrt::detail::postgres {

using SteadyTime = std::chrono::steady_clock::time_point;

/// A lease as this node holds it.
struct HeldLease {
  SessionKey key;
  std::int64_t epoch = 0;
};

/// What a renewal did with one lease.
enum class Renewal {
  renewed, ///< extended: a new local deadline
  /// Still this node's epoch, not extended now: its row was busy in a commit (which extends
  /// it), or another node asked for the session (the lease lapses; a turn in flight still
  /// commits). The deadline stands.
  skipped,
  dropped, ///< lost: another node claimed it, or it was erased; forgotten here
};

class LeaseTable {
public:
  /// `lease`: how long a claim or renewal lasts in the database.
  explicit LeaseTable(std::chrono::milliseconds lease) : lease_(lease) {
    // nop
  }

  /// The local deadline of a claim or renewal sent at `sent`.
  SteadyTime deadline(SteadyTime sent) const noexcept {
    return sent + lease_ - lease_ / 10;
  }

  /// Records the claim of `key` with `epoch`, sent at `sent`.
  void claimed(const SessionKey& key, std::int64_t epoch, SteadyTime sent);
  /// The epoch this node claimed `key` with, if it still holds it (deadline passed or not:
  /// the database fences a commit by the epoch).
  std::optional<std::int64_t> epoch(const SessionKey& key) const;
  /// Held and its local deadline not passed.
  bool holds(const SessionKey& key) const;
  /// Forgets `key`; returns the epoch it held.
  std::optional<std::int64_t> drop(const SessionKey& key);
  /// Forgets `key` if it still holds `epoch` (a newer claim stays).
  void drop(const SessionKey& key, std::int64_t epoch);
  /// Every lease held, to renew.
  std::vector<HeldLease> snapshot() const;
  /// A commit sent at `sent` extended the lease of `key` (if still at `epoch`).
  void extended(const SessionKey& key, std::int64_t epoch, SteadyTime sent);

  /// The outcome of a renewal sent at `sent` for each of `asked` (same order).
  void renewed(const std::vector<HeldLease>& asked, const std::vector<Renewal>& outcome,
               SteadyTime sent);

private:
  struct Hash {
    std::size_t operator()(const SessionKey& k) const noexcept;
  };
  struct Entry {
    std::int64_t epoch;
    SteadyTime deadline;
  };

  std::chrono::milliseconds lease_;
  mutable Mutex mu_;
  std::unordered_map<SessionKey, Entry, Hash> leases_ AGENTRT_GUARDED_BY(mu_);
};

/// Calls `renew` every `interval` on its own thread until destroyed.
class LeaseRenewer {
public:
  LeaseRenewer(std::chrono::milliseconds interval, std::function<void()> renew);
  ~LeaseRenewer();
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

private:
  void loop();

  std::chrono::milliseconds interval_;
  std::function<void()> renew_;
  Mutex mu_;
  std::condition_variable cv_;
  bool stopping_ AGENTRT_GUARDED_BY(mu_) = false;
  std::thread thread_; // last: started once everything it uses exists
};

} // namespace agentrt::detail::postgres
