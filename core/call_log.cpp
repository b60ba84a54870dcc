#include "core/call_log.hpp"

#include "core/call_state.hpp"

#include <algorithm>

namespace agentrt::detail {

namespace {

constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

void mix(std::uint64_t& h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  // The length separates fields, so ("ab", "c") and ("a", "bc") differ.
  auto n = bytes.size();
  for (int i = 0; i < 8; ++i) {
    h ^= static_cast<unsigned char>(n >> (8 * i));
    h *= fnv_prime;
  }
}

/// Did this reply commit its turn? Completed, or interrupted with its output kept.
bool committed_turn(const Reply& r) {
  return r.ok() || r.error == errc::interrupted;
}

} // namespace

std::uint64_t request_fingerprint(const std::string& input, const Params& params) {
  std::uint64_t h = fnv_offset;
  mix(h, input);
  for (auto& [k, v] : params) {
    mix(h, k);
    mix(h, v);
  }
  return h;
}

bool CallLog::too_old(const CallState& call, Clock::time_point now) const {
  return call.ended() && now - call.ended_at() > limits_.calls_for;
}

void CallLog::remember(const CallPtr& call, Clock::time_point now) {
  if (limits_.calls == 0)
    return;
  recent_.push_back(call);
  // Pruned in batches (at twice the count, down to the count), not on every call.
  if (recent_.size() < 2 * limits_.calls)
    return;
  std::erase_if(recent_, [&](const CallPtr& c) { return too_old(*c, now); });
  std::size_t excess = recent_.size() > limits_.calls ? recent_.size() - limits_.calls : 0;
  std::erase_if(recent_, [&](const CallPtr& c) { // the oldest ended ones beyond the count
    if (excess == 0 || !c->ended())
      return false;
    --excess;
    return true;
  });
}

CallPtr CallLog::find(std::uint64_t id, Clock::time_point now, bool& expired) {
  expired = false;
  for (auto& c : recent_) {
    if (c->id != id)
      continue;
    if (too_old(*c, now)) {
      expired = true;
      return nullptr;
    }
    return c;
  }
  return nullptr;
}

/// Resolves one entry whose call ended: a committed outcome is kept (the call let go), an
/// entry whose call committed nothing is to go. False if it must go.
static bool settle_entry(CallLog::RequestEntry& e) {
  if (!e.call || !e.call->ended())
    return true;
  const auto& r = e.call->reply();
  if (!committed_turn(r))
    return false; // nothing was committed: a retry runs anew
  e.committed.turn = r.turn;
  e.committed.output = r.output;
  e.committed.interrupted = r.error == errc::interrupted;
  e.call.reset();
  return true;
}

void CallLog::settle(SysClock::time_point) {
  std::erase_if(requests_, [](RequestEntry& e) { return !settle_entry(e); });
}

void CallLog::bound(SysClock::time_point now) {
  settle(now);
  std::erase_if(requests_, [&](const RequestEntry& e) {
    return !e.call && now - e.at > limits_.request_ttl;
  });
  while (requests_.size() > limits_.request_ids) {
    auto oldest = std::find_if(requests_.begin(), requests_.end(),
                               [](const RequestEntry& e) { return !e.call; });
    if (oldest == requests_.end())
      break; // all still running: none may be forgotten
    requests_.erase(oldest);
  }
}

CallLog::Seen CallLog::lookup(const std::string& request_id, std::uint64_t fingerprint,
                              SysClock::time_point now) {
  // Only the entry asked for is brought up to date here; the rest when one is added.
  Seen seen;
  auto e = std::find_if(requests_.begin(), requests_.end(),
                        [&](const RequestEntry& x) { return x.request_id == request_id; });
  if (e == requests_.end())
    return seen;
  if (!settle_entry(*e) || (!e->call && now - e->at > limits_.request_ttl)) {
    requests_.erase(e);
    return seen;
  }
  if (e->fingerprint != fingerprint) {
    seen.kind = Seen::Kind::conflict;
    return seen;
  }
  if (e->call) {
    seen.kind = Seen::Kind::running;
    seen.call = e->call;
    return seen;
  }
  seen.kind = Seen::Kind::committed;
  seen.outcome.output = e->committed.output;
  seen.outcome.turn = e->committed.turn;
  if (e->committed.interrupted) {
    seen.outcome.error = errc::interrupted;
    seen.outcome.message = "interrupted by a later call; what the turn produced was kept";
  }
  return seen;
}

void CallLog::begin(const std::string& request_id, std::uint64_t fingerprint, const CallPtr& call,
                    SysClock::time_point now) {
  RequestEntry e;
  e.request_id = request_id;
  e.fingerprint = fingerprint;
  e.call = call;
  e.committed.request_id = request_id;
  e.committed.input_hash = fingerprint;
  e.at = now;
  e.committed.at = now;
  requests_.push_back(std::move(e));
  if (requests_.size() > limits_.request_ids)
    bound(now);
}

void CallLog::restore(const std::vector<StoredRequest>& requests, SysClock::time_point now) {
  for (auto& r : requests) {
    if (std::any_of(requests_.begin(), requests_.end(),
                    [&](const RequestEntry& e) { return e.request_id == r.request_id; }))
      continue;
    RequestEntry e;
    e.request_id = r.request_id;
    e.fingerprint = r.input_hash;
    e.committed = r;
    e.at = r.at;
    requests_.push_back(std::move(e));
  }
  std::stable_sort(requests_.begin(), requests_.end(),
                   [](const RequestEntry& a, const RequestEntry& b) { return a.at < b.at; });
  bound(now);
}

std::vector<StoredRequest> CallLog::committed() {
  settle(SysClock::now());
  std::vector<StoredRequest> out;
  for (auto& e : requests_)
    if (!e.call)
      out.push_back(e.committed);
  return out;
}

} // namespace agentrt::detail
