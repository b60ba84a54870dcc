#pragma once

// BatchWriter: a durable store's writer thread. Work is queued from any thread; the thread
// takes everything queued at once and hands it to the store as one batch (group commit), so
// concurrent sessions share the cost of a commit. Work runs in queue order, so an erase (or
// a lease's release) runs after every turn of its session queued before it.
//
// Thread-safety: `enqueue` may be called from any thread; the destructor writes what is
// queued, then stops the thread.

#include <agentrt/result.hpp>
#include <agentrt/session_store.hpp>

#include "core/thread_annotations.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

namespace agentrt::detail {

/// A turn to commit, or (when `record` is null) a session to erase or a lease to release.
struct BatchWork {
  std::shared_ptr<const TurnRecord> record;
  std::optional<SessionKey> erase;
  /// A store with leases: the session whose lease (of `epoch`) this node lets go.
  std::optional<SessionKey> release;
  /// A store with leases: the epoch of the lease the turn (or release) is fenced by.
  std::int64_t epoch = 0;
  std::function<void(Result<void>)> done;

  static BatchWork turn(std::shared_ptr<const TurnRecord> record,
                        std::function<void(Result<void>)> done, std::int64_t epoch = 0) {
    BatchWork w;
    w.record = std::move(record);
    w.epoch = epoch;
    w.done = std::move(done);
    return w;
  }
  static BatchWork erase_of(SessionKey key, std::function<void(Result<void>)> done) {
    BatchWork w;
    w.erase = std::move(key);
    w.done = std::move(done);
    return w;
  }
  /// Nobody waits for a release: its outcome is dropped.
  static BatchWork release_of(SessionKey key, std::int64_t epoch) {
    BatchWork w;
    w.release = std::move(key);
    w.epoch = epoch;
    w.done = [](Result<void>) {};
    return w;
  }
};

class BatchWriter {
public:
  /// `write` commits a batch and calls each item's `done`; it runs on the writer thread.
  explicit BatchWriter(std::function<void(std::deque<BatchWork>&)> write);
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  void enqueue(BatchWork work);

  /// Queues an erase of `key` and waits for its outcome: it runs after every turn of the
  /// session queued before it, so a closed session's last turn cannot land after its erase.
  /// Not from the writer thread.
  Result<void> erase(const SessionKey& key);

private:
  void loop();

  std::function<void(std::deque<BatchWork>&)> write_;
  Mutex mu_;
  std::condition_variable cv_;
  std::deque<BatchWork> queue_ AGENTRT_GUARDED_BY(mu_);
  bool stopping_ AGENTRT_GUARDED_BY(mu_) = false;
  std::thread thread_; // last: started once everything it uses exists
};

} // namespace agentrt::detail
