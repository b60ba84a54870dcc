#include "runtime/blocking_pool.hpp"

#include <thread>

namespace agentrt::detail {

BlockingPool::BlockingPool(std::size_t threads, std::size_t max_threads)
  : shared_(std::make_shared<Shared>()) {
  MutexLock guard{shared_->mu};
  shared_->base = threads;
  shared_->max = max_threads < threads ? threads : max_threads;
}

BlockingPool::~BlockingPool() {
  stop(std::chrono::milliseconds{0});
}

void BlockingPool::spawn(const std::shared_ptr<Shared>& shared) {
  ++shared->alive;
  std::thread{&BlockingPool::work, shared}.detach();
}

void BlockingPool::spawn_if_short(const std::shared_ptr<Shared>& shared) {
  if (shared->stopping || shared->jobs.size() <= shared->idle)
    return;
  // Never leave a job without a thread to run it; otherwise keep to `base` working threads
  // (and `max` in all).
  if (shared->alive <= shared->waiting
      || (shared->alive - shared->waiting < shared->base && shared->alive < shared->max))
    spawn(shared);
}

void BlockingPool::post(std::function<void()> job) {
  {
    MutexLock guard{shared_->mu};
    if (shared_->stopping)
      return; // the job's owner already failed its call (shutdown ends every call)
    shared_->jobs.push_back(std::move(job));
    spawn_if_short(shared_);
  }
  shared_->work_cv.notify_one();
}

void BlockingPool::begin_wait() {
  MutexLock guard{shared_->mu};
  ++shared_->waiting;
  spawn_if_short(shared_); // queued jobs may be what this one waits for
}

void BlockingPool::end_wait() {
  MutexLock guard{shared_->mu};
  --shared_->waiting;
}

void BlockingPool::work(std::shared_ptr<Shared> shared) {
  CondLock lock{shared->mu};
  for (;;) {
    ++shared->idle;
    bool woke = shared->work_cv.wait_for(lock.get(), std::chrono::seconds(1),
                                         [&]() AGENTRT_REQUIRES(shared->mu) {
                                           return shared->stopping || !shared->jobs.empty();
                                         });
    --shared->idle;
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

std::size_t BlockingPool::threads() const {
  MutexLock guard{shared_->mu};
  return shared_->alive;
}

std::size_t BlockingPool::idle_threads() const {
  MutexLock guard{shared_->mu};
  return shared_->idle;
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
