#pragma once

// Stores for tests: a wrapper over a real store that injects faults on demand. Each
// operation can fail with an error (fail_*) or throw (throw_*), and erasing one chosen key
// can wait at a gate (a durable store's erase waits for its writer).

#include "support/calls.hpp"

#include <agentrt/session_store.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace agentrt_test {

/// The operations every store has, with faults; `Base` is PassivatingStore or DurableStore.
template <class Base>
class FaultyCommon : public Base {
public:
  explicit FaultyCommon(std::shared_ptr<Base> inner) : inner_(std::move(inner)) {
  }

  std::atomic<bool> fail_load{false};
  std::atomic<bool> throw_load{false};
  std::atomic<bool> throw_erase{false};
  std::atomic<bool> throw_expired{false};
  std::atomic<int> expired_calls{0};
  /// Erasing this key waits at `erase_gate` (arrivals counted).
  std::optional<agentrt::SessionKey> slow_erase;
  Gate erase_gate;

  agentrt::Result<std::optional<agentrt::StoredSession>> load(const agentrt::SessionKey& k) override {
    if (throw_load)
      throw std::runtime_error("load exploded");
    if (fail_load)
      return agentrt::Error{std::make_error_code(std::errc::io_error), "the disk is unreadable"};
    return inner_->load(k);
  }
  agentrt::Result<void> erase(const agentrt::SessionKey& k) override {
    if (throw_erase)
      throw std::runtime_error("erase exploded");
    if (slow_erase && k == *slow_erase) {
      erase_gate.arrived();
      erase_gate.wait({});
    }
    return inner_->erase(k);
  }
  agentrt::Result<agentrt::OwnerSession> owner_session(std::string_view a, std::string_view o,
                                                       const std::string& c) override {
    return inner_->owner_session(a, o, c);
  }
  agentrt::Result<std::vector<agentrt::SessionKey>>
  expired(std::chrono::system_clock::time_point c,
          std::chrono::system_clock::time_point a) override {
    expired_calls.fetch_add(1);
    if (throw_expired)
      throw std::runtime_error("expired exploded");
    return inner_->expired(c, a);
  }

protected:
  std::shared_ptr<Base> inner_;
};

/// The memory store with faults.
class FaultyMemoryStore final : public FaultyCommon<agentrt::PassivatingStore> {
public:
  FaultyMemoryStore() : FaultyCommon(agentrt::make_memory_store()) {
  }
  std::atomic<bool> throw_put{false};

  agentrt::Result<void> put(agentrt::StoredSession& s) override {
    if (throw_put)
      throw std::runtime_error("put exploded");
    return inner_->put(s);
  }
};

/// A durable store (SQLite, or the given one) with faults on commit too.
class FaultyDurableStore final : public FaultyCommon<agentrt::DurableStore> {
public:
  explicit FaultyDurableStore(std::shared_ptr<agentrt::DurableStore> inner)
    : FaultyCommon(std::move(inner)) {
  }
  std::atomic<bool> fail_commit{false};
  std::atomic<bool> throw_commit{false};

  void commit(std::shared_ptr<const agentrt::TurnRecord> r,
              std::function<void(agentrt::Result<void>)> done) override {
    if (throw_commit)
      throw std::runtime_error("commit exploded");
    if (fail_commit) {
      done(agentrt::Error{std::make_error_code(std::errc::no_space_on_device),
                          "No space left on device"});
      return;
    }
    inner_->commit(std::move(r), std::move(done));
  }
};

/// Commits `record` to `store` and waits for the outcome.
inline agentrt::Result<void> commit_and_wait(agentrt::DurableStore& store,
                                             const agentrt::TurnRecord& record) {
  std::promise<agentrt::Result<void>> p;
  auto f = p.get_future();
  store.commit(std::make_shared<agentrt::TurnRecord>(record),
               [&p](agentrt::Result<void> r) { p.set_value(std::move(r)); });
  return f.get();
}

} // namespace agentrt_test
