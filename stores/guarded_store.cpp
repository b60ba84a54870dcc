#include "stores/guarded_store.hpp"

#include <agentrt/errors.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <exception>

namespace agentrt::detail {

namespace {

std::string exception_text(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

} // namespace

GuardedStore::GuardedStore(std::shared_ptr<SessionStore> inner,
                           std::shared_ptr<spdlog::logger> log)
  : inner_(std::move(inner)), log_(std::move(log)), write_through_(inner_->write_through()) {
  // write_through() is read once: a store does not change its kind while in use.
}

template <class Op>
std::error_code GuardedStore::guard(const char* what, Op&& op) noexcept {
  try {
    return op();
  } catch (...) {
    try {
      log_->error("[-/-] the session store threw in {}(): {}", what,
                  exception_text(std::current_exception()));
    } catch (...) {
      // the logger's own failure: the outcome stands
    }
    return make_error_code(errc::store_failed);
  }
}

bool GuardedStore::write_through() const noexcept {
  return write_through_;
}

std::error_code GuardedStore::load(const SessionKey& key, std::optional<StoredSession>& out) {
  return guard("load", [&] { return inner_->load(key, out); });
}

std::error_code GuardedStore::save(const TurnRecord& record) {
  return guard("save", [&] { return inner_->save(record); });
}

void GuardedStore::save_async(std::shared_ptr<const TurnRecord> record,
                              std::function<void(std::error_code)> done) {
  struct Once {
    std::atomic<bool> fired{false};
    std::function<void(std::error_code)> done;
    void operator()(std::error_code ec) {
      if (!fired.exchange(true, std::memory_order_acq_rel))
        done(ec);
    }
  };
  auto once = std::make_shared<Once>();
  once->done = std::move(done);
  auto ec = guard("save_async", [&] {
    inner_->save_async(std::move(record), [once](std::error_code e) { (*once)(e); });
    return std::error_code{};
  });
  if (ec)
    (*once)(ec);
}

std::error_code GuardedStore::put(StoredSession& session) {
  return guard("put", [&] { return inner_->put(session); });
}

std::error_code GuardedStore::erase(const SessionKey& key) {
  return guard("erase", [&] { return inner_->erase(key); });
}

std::error_code GuardedStore::owner_session(std::string_view agent, std::string_view owner,
                                            const std::string& candidate, std::string& out,
                                            bool& created) {
  return guard("owner_session",
               [&] { return inner_->owner_session(agent, owner, candidate, out, created); });
}

std::error_code GuardedStore::list_by_owner(std::string_view owner,
                                            std::vector<SessionKey>& out) {
  return guard("list_by_owner", [&] { return inner_->list_by_owner(owner, out); });
}

std::error_code GuardedStore::expired(std::chrono::system_clock::time_point created_before,
                                      std::chrono::system_clock::time_point active_before,
                                      std::vector<SessionKey>& out) {
  return guard("expired", [&] { return inner_->expired(created_before, active_before, out); });
}

} // namespace agentrt::detail
