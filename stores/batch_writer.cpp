#include "stores/batch_writer.hpp"

#include <future>

namespace agentrt::detail {

BatchWriter::BatchWriter(std::function<void(std::deque<BatchWork>&)> write)
  : write_(std::move(write)), thread_([this] { loop(); }) {
  // nop
}

BatchWriter::~BatchWriter() {
  {
    MutexLock guard{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join(); // writes what was queued first
}

Result<void> BatchWriter::erase(const SessionKey& key) {
  std::promise<Result<void>> result;
  auto outcome = result.get_future();
  enqueue(BatchWork::erase_of(key, [&result](Result<void> r) { result.set_value(std::move(r)); }));
  return outcome.get();
}

void BatchWriter::enqueue(BatchWork work) {
  {
    MutexLock guard{mu_};
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void BatchWriter::loop() {
  for (;;) {
    std::deque<BatchWork> batch;
    {
      CondLock lock{mu_};
      cv_.wait(lock.get(), [this]() AGENTRT_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping, and everything queued was written
      batch.swap(queue_);
    }
    write_(batch);
  }
}

} // namespace agentrt::detail
