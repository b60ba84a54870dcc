#include "stores/postgres/leases.hpp"

#include <algorithm>

#include <string_view>

namespace agentrt::detail::postgres {

std::size_t LeaseTable::Hash::operator()(const SessionKey& k) const noexcept {
  std::hash<std::string_view> h;
  return h(k.agent) * 31 ^ h(k.session_id);
}

void LeaseTable::claimed(const SessionKey& key, std::int64_t epoch, SteadyTime sent) {
  MutexLock guard{mu_};
  leases_[key] = Entry{epoch, deadline(sent)};
}

std::optional<std::int64_t> LeaseTable::epoch(const SessionKey& key) const {
  MutexLock guard{mu_};
  auto i = leases_.find(key);
  if (i == leases_.end())
    return std::nullopt;
  return i->second.epoch;
}

bool LeaseTable::holds(const SessionKey& key) const {
  auto now = std::chrono::steady_clock::now();
  MutexLock guard{mu_};
  auto i = leases_.find(key);
  return i != leases_.end() && now < i->second.deadline;
}

std::optional<std::int64_t> LeaseTable::drop(const SessionKey& key) {
  MutexLock guard{mu_};
  auto i = leases_.find(key);
  if (i == leases_.end())
    return std::nullopt;
  auto epoch = i->second.epoch;
  leases_.erase(i);
  return epoch;
}

void LeaseTable::drop(const SessionKey& key, std::int64_t epoch) {
  MutexLock guard{mu_};
  if (auto i = leases_.find(key); i != leases_.end() && i->second.epoch == epoch)
    leases_.erase(i);
}

std::vector<HeldLease> LeaseTable::snapshot() const {
  MutexLock guard{mu_};
  std::vector<HeldLease> out;
  out.reserve(leases_.size());
  for (auto& [key, entry] : leases_)
    out.push_back(HeldLease{key, entry.epoch});
  return out;
}

void LeaseTable::extended(const SessionKey& key, std::int64_t epoch, SteadyTime sent) {
  auto until = deadline(sent);
  MutexLock guard{mu_};
  auto it = leases_.find(key);
  if (it != leases_.end() && it->second.epoch == epoch)
    it->second.deadline = std::max(it->second.deadline, until);
}

void LeaseTable::renewed(const std::vector<HeldLease>& asked, const std::vector<Renewal>& outcome,
                         SteadyTime sent) {
  auto until = deadline(sent);
  MutexLock guard{mu_};
  for (std::size_t i = 0; i < asked.size(); ++i) {
    auto it = leases_.find(asked[i].key);
    // Claimed again meanwhile (a newer epoch): that claim's deadline stands.
    if (it == leases_.end() || it->second.epoch != asked[i].epoch)
      continue;
    if (outcome[i] == Renewal::renewed)
      it->second.deadline = std::max(it->second.deadline, until);
    else if (outcome[i] == Renewal::dropped)
      leases_.erase(it);
  }
}

LeaseRenewer::LeaseRenewer(std::chrono::milliseconds interval, std::function<void()> renew)
  : interval_(interval), renew_(std::move(renew)), thread_([this] { loop(); }) {
  // nop
}

LeaseRenewer::~LeaseRenewer() {
  {
    MutexLock guard{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseRenewer::loop() {
  // Ticks from a fixed start, so a slow renewal does not push every later one back.
  auto next = std::chrono::steady_clock::now() + interval_;
  for (;;) {
    {
      CondLock lock{mu_};
      if (cv_.wait_until(lock.get(), next, [this]() AGENTRT_REQUIRES(mu_) { return stopping_; }))
        return;
    }
    renew_();
    next += interval_;
    if (auto now = std::chrono::steady_clock::now(); next < now)
      next = now; // a renewal took longer than the interval: the next one runs at once
  }
}

} // namespace agentrt::detail::postgres
