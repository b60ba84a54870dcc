#include "runtime/blocking_pool.hpp"

#include <thread>

namespace agentrt::detail {

BlockingPool::BlockingPool(std::size_t threads, std::size_t max_threads)
  : shared_(std::make_shared<Shared>()) {
  MutexLock guard{shared_->mu};
  shared_->base = threads;
  shared_->max = max_threads < threads ? threads : max_threads;
  for (std::size_t i = 0; i < threads; ++i)
    spawn(shared_);
}

BlockingPool::~BlockingPool() {
  stop(std::chrono::milliseconds{0});
}

void BlockingPool::spawn(const std::shared_ptr<Shared>& shared) {
  ++shared->alive;
  std::thread{&BlockingPool::work, shared}.detach();
}

void BlockingPool::post(std::function<void()> job) {
  {
    MutexLock guard{shared_->mu};
    if (shared_->stopping)
      return; // the job's owner already failed its call (shutdown ends every call)
    shared_->jobs.push_back(std::move(job));
    // Never leave a job without a thread to run it.
    if (shared_->alive <= shared_->waiting)
      spawn(shared_);
  }
  shared_->work_cv.notify_one();
}

void BlockingPool::begin_wait() {
  MutexLock guard{shared_->mu};
  ++shared_->waiting;
  // Keep `base` threads that are not waiting.
  if (!shared_->stopping && shared_->alive - shared_->waiting < shared_->base
      && shared_->alive < shared_->max)
    spawn(shared_);
}

void BlockingPool::end_wait() {
  MutexLock guard{shared_->mu};
  --shared_->waiting;
}

void BlockingPool::work(std::shared_ptr<Shared> shared) {
  CondLock lock{shared->mu};
  for (;;) {
    bool woke = shared->work_cv.wait_for(lock.get(), std::chrono::seconds(1),
                                         [&]() AGENTRT_REQUIRES(shared->mu) {
                                           return shared->stopping || !shared->jobs.empty();
                                         });
    if (shared->stopping)
      break;
    // After a quiet second, a thread beyond `base` (not counting waiting ones) retires. The
    // count is read now, under the lock, so idle threads retire one by one, never all.
    if (!woke && shared->alive - shared->waiting > shared->base)
      break;
    if (shared->jobs.empty())
      continue;
    auto job = std::move(shared->jobs.front());
    shared->jobs.pop_front();
    lock.unlock();
    job();
    job = nullptr; // release what the job holds before counting it done
    lock.lock();
  }
  --shared->alive;
  shared->exit_cv.notify_all();
}

std::size_t BlockingPool::stop(std::chrono::milliseconds grace) {
  if (stopped_)
    return 0;
  stopped_ = true;
  std::deque<std::function<void()>> dropped;
  std::size_t left = 0;
  {
    CondLock lock{shared_->mu};
    shared_->stopping = true;
    dropped.swap(shared_->jobs);
    shared_->work_cv.notify_all();
    shared_->exit_cv.wait_for(lock.get(), grace,
                              [&]() AGENTRT_REQUIRES(shared_->mu) { return shared_->alive == 0; });
    left = shared_->alive;
  }
  dropped.clear();
  return left;
}

} // namespace agentrt::detail
