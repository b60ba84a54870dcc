#pragma once

// Writer: the SQLite store's writer thread. Work is queued from any thread; the thread takes
// everything queued at once and hands it to the store as one batch (group commit), so
// concurrent sessions share the cost of a commit. Work runs in queue order, so an erase
// runs after every turn of its session queued before it.
//
// Thread-safety: `enqueue` may be called from any thread; the destructor writes what is
// queued, then stops the thread.

#include <agentrt/result.hpp>
#include <agentrt/session_store.hpp>

#include "core/thread_annotations.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

namespace agentrt::detail::sqlite {

/// A turn to commit, or (when `record` is null) a session to erase.
struct Work {
  std::shared_ptr<const TurnRecord> record;
  std::optional<SessionKey> erase;
  std::function<void(Result<void>)> done;
};

class Writer {
public:
  /// `write` commits a batch and calls each item's `done`; it runs on the writer thread.
  explicit Writer(std::function<void(std::deque<Work>&)> write);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void enqueue(Work work);

private:
  void loop();

  std::function<void(std::deque<Work>&)> write_;
  Mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_ AGENTRT_GUARDED_BY(mu_);
  bool stopping_ AGENTRT_GUARDED_BY(mu_) = false;
  std::thread thread_; // last: started once everything it uses exists
};

} // namespace agentrt::detail::sqlite
