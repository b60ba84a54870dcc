#include "stores/sqlite/writer.hpp"

namespace agentrt::detail::sqlite {

Writer::Writer(std::function<void(std::deque<Work>&)> write)
  : write_(std::move(write)), thread_([this] { loop(); }) {
  // nop
}

Writer::~Writer() {
  {
    MutexLock guard{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join(); // writes what was queued first
}

void Writer::enqueue(Work work) {
  {
    MutexLock guard{mu_};
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void Writer::loop() {
  for (;;) {
    std::deque<Work> batch;
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

} // namespace agentrt::detail::sqlite
