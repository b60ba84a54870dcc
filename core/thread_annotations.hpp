#pragma once

// Lock annotations the compiler can check: clang's thread-safety analysis
// (-Wthread-safety) verifies that a field marked AGENTRT_GUARDED_BY(mu) is only touched
// with `mu` held; other compilers see nothing. `Mutex` and `MutexLock` are the annotated
// lock and its scope (libstdc++'s std::mutex carries no annotations); a field guarded by a
// std::shared_mutex or only by convention keeps a `// guarded by` comment.
//
// scripts/test.sh compiles the core with clang and -Werror=thread-safety.

#include <mutex>

#if defined(__clang__)
#define AGENTRT_TSA(x) __attribute__((x))
#else
#define AGENTRT_TSA(x)
#endif

#define AGENTRT_CAPABILITY(x) AGENTRT_TSA(capability(x))
#define AGENTRT_SCOPED_CAPABILITY AGENTRT_TSA(scoped_lockable)
#define AGENTRT_GUARDED_BY(x) AGENTRT_TSA(guarded_by(x))
#define AGENTRT_REQUIRES(...) AGENTRT_TSA(requires_capability(__VA_ARGS__))
#define AGENTRT_ACQUIRE(...) AGENTRT_TSA(acquire_capability(__VA_ARGS__))
#define AGENTRT_RELEASE(...) AGENTRT_TSA(release_capability(__VA_ARGS__))
#define AGENTRT_EXCLUDES(...) AGENTRT_TSA(locks_excluded(__VA_ARGS__))
#define AGENTRT_RETURN_CAPABILITY(x) AGENTRT_TSA(lock_returned(x))

namespace agentrt::detail {

/// A std::mutex the analysis knows as a lock.
class AGENTRT_CAPABILITY("mutex") Mutex {
public:
  void lock() AGENTRT_ACQUIRE() {
    mu_.lock();
  }
  void unlock() AGENTRT_RELEASE() {
    mu_.unlock();
  }
  /// The underlying mutex, for a std::condition_variable wait (see CondLock).
  std::mutex& native() AGENTRT_RETURN_CAPABILITY(this) {
    return mu_;
  }

private:
  std::mutex mu_;
};

/// Holds a Mutex for its scope.
class AGENTRT_SCOPED_CAPABILITY MutexLock {
public:
  explicit MutexLock(Mutex& mu) AGENTRT_ACQUIRE(mu) : mu_(mu) {
    mu_.lock();
  }
  ~MutexLock() AGENTRT_RELEASE() {
    mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

private:
  Mutex& mu_;
};

/// Holds a Mutex for its scope as a std::unique_lock, so a std::condition_variable can wait
/// on it (std::condition_variable_any would allocate per object).
class AGENTRT_SCOPED_CAPABILITY CondLock {
public:
  explicit CondLock(Mutex& mu) AGENTRT_ACQUIRE(mu) : lock_(mu.native()) {
    // nop
  }
  ~CondLock() AGENTRT_RELEASE() = default;
  CondLock(const CondLock&) = delete;
  CondLock& operator=(const CondLock&) = delete;

  std::unique_lock<std::mutex>& get() noexcept {
    return lock_;
  }

  /// Lets go of the mutex for a while (run a job without it).
  void unlock() AGENTRT_RELEASE() {
    lock_.unlock();
  }
  void lock() AGENTRT_ACQUIRE() {
    lock_.lock();
  }

private:
  std::unique_lock<std::mutex> lock_;
};

} // namespace agentrt::detail
