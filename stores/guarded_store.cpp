#include "stores/guarded_store.hpp"

#include "core/exception_text.hpp"

#include <agentrt/errors.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <exception>
#include <stdexcept>

namespace agentrt::detail {

GuardedStore::GuardedStore(std::shared_ptr<SessionStore> store,
                           std::shared_ptr<spdlog::logger> log)
  : store_(std::move(store)),
    passivating_(dynamic_cast<PassivatingStore*>(store_.get())),
    durable_(dynamic_cast<DurableStore*>(store_.get())),
    log_(std::move(log)) {
  if ((passivating_ == nullptr) == (durable_ == nullptr))
    throw std::invalid_argument("agentrt: RuntimeConfig::store must be either a "
                                "PassivatingStore or a DurableStore");
}

template <class R, class Op>
R GuardedStore::guard(const char* what, Op&& op) noexcept {
  try {
    return op();
  } catch (...) {
    auto text = std::string{"the session store threw in "} + what + "(): "
                + exception_text(std::current_exception());
    try {
      log_->error("[-/-] {}", text);
      return R{Error{errc::store_failed, std::move(text)}};
    } catch (...) {
      return R{Error{}}; // out of memory even for the message: the code must do
    }
  }
}

Result<std::optional<StoredSession>> GuardedStore::load(const SessionKey& key) noexcept {
  using R = Result<std::optional<StoredSession>>;
  return guard<R>("load", [&] { return store_->load(key); });
}

Result<std::optional<StoredSession>> GuardedStore::read(const SessionKey& key) noexcept {
  using R = Result<std::optional<StoredSession>>;
  return guard<R>("read", [&] { return store_->read(key); });
}

Result<void> GuardedStore::erase(const SessionKey& key) noexcept {
  return guard<Result<void>>("erase", [&] { return store_->erase(key); });
}

Result<OwnerSession> GuardedStore::owner_session(std::string_view agent, std::string_view owner,
                                                 const std::string& candidate) noexcept {
  return guard<Result<OwnerSession>>(
    "owner_session", [&] { return store_->owner_session(agent, owner, candidate); });
}

Result<std::vector<SessionKey>>
GuardedStore::expired(std::chrono::system_clock::time_point created_before,
                      std::chrono::system_clock::time_point active_before) noexcept {
  using R = Result<std::vector<SessionKey>>;
  return guard<R>("expired", [&] { return store_->expired(created_before, active_before); });
}

Result<void> GuardedStore::put(StoredSession& session) noexcept {
  if (passivating_ == nullptr)
    return {};
  return guard<Result<void>>("put", [&] { return passivating_->put(session); });
}

void GuardedStore::commit(std::shared_ptr<const TurnRecord> record,
                          std::function<void(Result<void>)> done) {
  struct Once {
    std::atomic<bool> fired{false};
    std::function<void(Result<void>)> done;
    void operator()(Result<void> r) {
      if (!fired.exchange(true, std::memory_order_acq_rel))
        done(std::move(r));
    }
  };
  auto once = std::make_shared<Once>();
  once->done = std::move(done);
  auto started = guard<Result<void>>("commit", [&] {
    durable_->commit(std::move(record), [once](Result<void> r) { (*once)(std::move(r)); });
    return Result<void>{};
  });
  if (!started)
    (*once)(std::move(started));
}

bool GuardedStore::holds(const SessionKey& key) const noexcept {
  if (durable_ == nullptr)
    return true;
  try {
    return durable_->holds(key);
  } catch (...) {
    return true;
  }
}

void GuardedStore::release(const SessionKey& key) noexcept {
  if (durable_ == nullptr)
    return;
  // A throw is logged by the guard; the lease then simply runs out.
  (void)guard<Result<void>>("release", [&] {
    durable_->release(key);
    return Result<void>{};
  });
}

} // namespace agentrt::detail
