#include "runtime/blocking_pool.hpp"

namespace agentrt::detail {

BlockingPool::BlockingPool(std::size_t threads) : shared_(std::make_shared<Shared>()) {
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i)
    threads_.emplace_back(&BlockingPool::work, shared_);
}

BlockingPool::~BlockingPool() {
  stop(std::chrono::milliseconds{0});
}

void BlockingPool::post(std::function<void()> job) {
  {
    std::lock_guard guard{shared_->mu};
    if (shared_->stopping)
      return; // the job's owner already failed its call (shutdown ends every call)
    shared_->jobs.push_back(std::move(job));
  }
  shared_->work_cv.notify_one();
}

void BlockingPool::work(std::shared_ptr<Shared> shared) {
  std::unique_lock lock{shared->mu};
  for (;;) {
    shared->work_cv.wait(lock, [&] { return shared->stopping || !shared->jobs.empty(); });
    if (shared->stopping)
      break;
    auto job = std::move(shared->jobs.front());
    shared->jobs.pop_front();
    ++shared->busy;
    lock.unlock();
    job();
    job = nullptr; // release what the job holds before counting it done
    lock.lock();
    --shared->busy;
  }
  ++shared->exited;
  shared->idle_cv.notify_all();
}

std::size_t BlockingPool::stop(std::chrono::milliseconds grace) {
  if (stopped_)
    return 0;
  stopped_ = true;
  std::deque<std::function<void()>> dropped;
  bool all_exited = false;
  {
    std::unique_lock lock{shared_->mu};
    shared_->stopping = true;
    dropped.swap(shared_->jobs);
    shared_->work_cv.notify_all();
    all_exited = shared_->idle_cv.wait_for(
      lock, grace, [&] { return shared_->exited == threads_.size(); });
  }
  dropped.clear();
  if (all_exited) {
    for (auto& t : threads_)
      t.join();
    return 0;
  }
  // A thread still inside a job that ignores its stop token cannot be joined without
  // hanging the host; it owns its job's data and exits when the job returns.
  std::size_t abandoned = 0;
  {
    std::lock_guard guard{shared_->mu};
    abandoned = threads_.size() - shared_->exited;
  }
  for (auto& t : threads_)
    t.detach();
  return abandoned;
}

} // namespace agentrt::detail
