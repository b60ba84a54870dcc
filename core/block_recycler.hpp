#pragma once

// Recycles fixed-size memory blocks between threads, for objects made on one thread and
// freed on another: a call's state is allocated by the host thread that invokes it and
// usually freed by the actor worker that finished it. With the default allocator (glibc)
// such a free goes back to the allocating thread's arena under its lock, and the next
// allocation takes that lock again: the two sides contend on every call. Here each thread
// keeps a small cache of free blocks; a thread with too many hands a batch to a shared
// list (one lock per batch), and a thread with none takes a batch from it.
//
// Bounded: at most `max_shared_batches` batches wait in the shared list; beyond that, and
// for blocks larger than a slot, memory goes back to the global allocator.
//
// Thread-safety: all functions may be called from any thread. The shared list lives for
// the whole process (never destroyed), so it can be used during static destruction. A
// thread's cache frees its blocks when the thread exits; after that, that thread's
// allocations and frees go straight to the global allocator.

#include <cstddef>
#include <memory>
#include <new>

namespace agentrt::detail {

/// A block of `bytes` (recycled when at most `recycled_block_bytes`), and its release with
/// the same size.
void* recycled_allocate(std::size_t bytes);
void recycled_deallocate(void* p, std::size_t bytes) noexcept;

/// The largest block the recycler keeps; larger requests use the global allocator.
inline constexpr std::size_t recycled_block_bytes = 1024;

/// Blocks move between threads in batches of this many.
inline constexpr std::size_t recycled_batch = 32;

/// False in a build with AddressSanitizer: every block then goes to the global allocator,
/// so a use after free is still caught (a recycled block would hide it).
bool recycles_blocks() noexcept;

/// A std::allocator for allocate_shared: the control block and object in one recycled
/// block.
template <class T>
struct RecyclingAllocator {
  using value_type = T;

  RecyclingAllocator() noexcept = default;
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {
    // nop
  }

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    return static_cast<T*>(recycled_allocate(n * sizeof(T)));
  }

  void deallocate(T* p, std::size_t n) noexcept {
    recycled_deallocate(p, n * sizeof(T));
  }

  template <class U>
  friend bool operator==(const RecyclingAllocator&, const RecyclingAllocator<U>&) noexcept {
    return true;
  }
};

} // namespace agentrt::detail
