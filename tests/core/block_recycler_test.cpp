// Blocks freed on one thread come back to another through the shared list, in batches;
// nothing is handed out twice, and a call's state is made in a recycled block.

#include "core/block_recycler.hpp"
#include "core/call_state.hpp"
#include "support/time_limit.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <set>
#include <thread>
#include <vector>

using namespace agentrt;
using namespace agentrt::detail;
using namespace std::chrono_literals;
using agentrt_test::run_with_time_limit;

namespace {

/// Allocates `n` blocks on a thread of its own (whose cache starts empty), each filled
/// with its index.
std::vector<void*> allocate_elsewhere(std::size_t n) {
  std::vector<void*> out;
  std::thread t{[&] {
    for (std::size_t i = 0; i < n; ++i) {
      auto* p = recycled_allocate(recycled_block_bytes);
      std::memset(p, static_cast<int>(i & 0xff), recycled_block_bytes);
      out.push_back(p);
    }
  }};
  t.join();
  return out;
}

} // namespace

TEST_CASE("blocks freed on one thread are handed to another in batches", "[recycler]") {
  run_with_time_limit(30s, "blocks freed on one thread are handed to another in batches", [] {
    // The host side: 2 batches' worth allocated on one thread...
    auto made = allocate_elsewhere(2 * recycled_batch);
    // ...freed on a worker: the second batch's worth makes its cache hand one batch over.
    std::size_t damaged = 0; // checked here: Catch's assertions are not thread-safe
    std::thread worker{[&] {
      for (std::size_t i = 0; i < made.size(); ++i) {
        auto* bytes = static_cast<unsigned char*>(made[i]);
        damaged += bytes[recycled_block_bytes - 1] != (i & 0xff); // intact until freed
        recycled_deallocate(made[i], recycled_block_bytes);
      }
    }};
    worker.join();
    CHECK(damaged == 0);
    // A fresh thread takes that batch: the first 32 blocks it gets are ones the worker freed
    // (the oldest 32), the next one is new.
    std::set<void*> freed(made.begin(), made.begin() + recycled_batch);
    auto again = allocate_elsewhere(recycled_batch + 1);
    std::size_t reused = 0;
    for (std::size_t i = 0; i < recycled_batch; ++i)
      reused += freed.count(again[i]);
    std::set<void*> distinct(again.begin(), again.end());
    CHECK(distinct.size() == again.size()); // nothing handed out twice
    if (recycles_blocks()) {
      CHECK(reused == recycled_batch);
      CHECK(freed.count(again.back()) == 0);
    } else {
      SUCCEED("built with AddressSanitizer: blocks go to the global allocator");
    }
    for (auto* p : again)
      recycled_deallocate(p, recycled_block_bytes);
  });
}

TEST_CASE("a call's state is made in a block a worker freed", "[recycler]") {
  run_with_time_limit(30s, "a call's state is made in a block a worker freed", [] {
    // A worker frees two batches' worth: one batch goes to the shared list.
    auto made = allocate_elsewhere(2 * recycled_batch);
    std::thread worker{[&] {
      for (auto* p : made)
        recycled_deallocate(p, recycled_block_bytes);
    }};
    worker.join();
    std::set<char*> freed;
    for (std::size_t i = 0; i < recycled_batch; ++i) // the oldest ones: the batch handed over
      freed.insert(static_cast<char*>(made[i]));
    // A caller thread (empty cache) makes a call: its state lies inside one of those blocks.
    bool inside = false;
    std::string session;
    std::thread caller{[&] {
      Request r;
      r.agent = "a";
      r.session_id = "s";
      auto call = make_call_state(1, std::move(r), Clock::now(), std::chrono::seconds(1));
      auto* at = reinterpret_cast<char*>(call.get());
      for (auto* b : freed)
        inside = inside || (at >= b && at + sizeof(CallState) <= b + recycled_block_bytes);
      session = call->session_id;
    }};
    caller.join();
    CHECK(session == "s");
    if (recycles_blocks())
      CHECK(inside);
    else
      CHECK_FALSE(inside); // ASan: the global allocator, which quarantines what was freed
  });
}
