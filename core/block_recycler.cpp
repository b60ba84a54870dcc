#include "core/block_recycler.hpp"

#include "core/thread_annotations.hpp"

#include <vector>

namespace agentrt::detail {

namespace {

constexpr std::size_t batch = recycled_batch;
constexpr std::size_t max_shared_batches = 128; // 4096 blocks, 4 MiB at most kept idle

/// A free block: its first bytes link it to the next one.
struct FreeBlock {
  FreeBlock* next;
};

class Shared {
public:
  void give(FreeBlock* head) {
    {
      MutexLock guard{mu_};
      if (batches_.size() < max_shared_batches) {
        batches_.push_back(head);
        return;
      }
    }
    release(head); // full: back to the global allocator
  }

  FreeBlock* take() {
    MutexLock guard{mu_};
    if (batches_.empty())
      return nullptr;
    auto* head = batches_.back();
    batches_.pop_back();
    return head;
  }

  static void release(FreeBlock* head) noexcept {
    while (head != nullptr) {
      auto* next = head->next;
      ::operator delete(static_cast<void*>(head));
      head = next;
    }
  }

private:
  Mutex mu_;
  std::vector<FreeBlock*> batches_ AGENTRT_GUARDED_BY(mu_);
};

Shared& shared() {
  static auto* s = new Shared; // never destroyed: see the header
  return *s;
}

/// Set when this thread's cache is destroyed (thread exit; on the main thread, before
/// static objects are): what the thread frees or allocates after that (a static Runtime's
/// calls, say) bypasses the recycler. A bool needs no destructor, so it outlives the cache.
thread_local bool cache_gone = false;

/// One thread's free blocks: up to two batches (one to hand out, one filling up).
class Cache {
public:
  ~Cache() {
    Shared::release(head_);
    head_ = nullptr;
    count_ = 0;
    cache_gone = true;
  }

  void* take() {
    if (head_ == nullptr) {
      head_ = shared().take();
      count_ = head_ ? batch : 0;
      if (head_ == nullptr)
        return ::operator new(recycled_block_bytes);
    }
    auto* b = head_;
    head_ = b->next;
    --count_;
    return b;
  }

  void give(void* p) noexcept {
    auto* b = static_cast<FreeBlock*>(p);
    b->next = head_;
    head_ = b;
    if (++count_ < 2 * batch)
      return;
    // Hand the oldest `batch` blocks to the shared list, keep the newest (cache-warm) ones.
    auto* last_kept = head_;
    for (std::size_t i = 1; i < batch; ++i)
      last_kept = last_kept->next;
    auto* rest = last_kept->next;
    last_kept->next = nullptr;
    count_ = batch;
    try {
      shared().give(rest);
    } catch (...) { // the shared list could not grow: free them
      Shared::release(rest);
    }
  }

private:
  FreeBlock* head_ = nullptr;
  std::size_t count_ = 0;
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

} // namespace

#if defined(__SANITIZE_ADDRESS__)
constexpr bool recycling = false;
#else
constexpr bool recycling = true;
#endif

bool recycles_blocks() noexcept {
  return recycling;
}

void* recycled_allocate(std::size_t bytes) {
  if (!recycling || bytes > recycled_block_bytes || cache_gone)
    return ::operator new(bytes);
  return cache().take();
}

void recycled_deallocate(void* p, std::size_t bytes) noexcept {
  if (!recycling || bytes > recycled_block_bytes || cache_gone) {
    ::operator delete(p);
    return;
  }
  cache().give(p);
}

} // namespace agentrt::detail
