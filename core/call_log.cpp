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

const CallLog::Limits& CallLog::limits() const noexcept {
  static const Limits defaults{};
  return limits_ != nullptr ? *limits_ : defaults;
}

CallLog::Lists& CallLog::lists() {
  if (!lists_)
    lists_ = std::make_unique<Lists>();
  return *lists_;
}

bool CallLog::too_old(const CallState& call, Clock::time_point now) const {
  return call.ended() && now - call.ended_at() > limits().calls_for;
}

void CallLog::remember(const CallPtr& call, Clock::time_point now) {
  if (limits().calls == 0)
    return;
  auto& recent = lists().recent;
  recent.push_back(call);
  // Pruned in batches (at twice the count, down to the count), not on every call.
  if (recent.size() < 2 * limits().calls)
    return;
  std::erase_if(recent, [&](const CallPtr& c) { return too_old(*c, now); });
  std::size_t excess = recent.size() > limits().calls ? recent.size() - limits().calls : 0;
  std::erase_if(recent, [&](const CallPtr& c) { // the oldest ended ones beyond the count
    if (excess == 0 || !c->ended())
      return false;
    --excess;
    return true;
  });
}

CallPtr CallLog::find(std::uint64_t id, Clock::time_point now, bool& expired) {
  expired = false;
  if (!lists_)
    return nullptr;
  for (auto& c : lists_->recent) {
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
/// Brings one entry up to date: once its call has ended, a committed outcome is kept (and
/// the call let go); an outcome that committed nothing marks it dead (a retry runs anew).
static void settle_entry(CallLog::RequestEntry& e) {
  if (!e.call || !e.call->ended())
    return;
  const auto& r = e.call->reply();
  if (committed_turn(r)) {
    e.committed.turn = r.turn;
    e.committed.output = r.output;
    e.committed.interrupted = r.error == errc::interrupted;
  } else {
    e.dead = true;
  }
  e.call.reset();
}

void CallLog::settle_ended() {
  // Calls mostly end in the order they came: walk from the first that may still run.
  auto& l = lists();
  while (l.unsettled < l.requests.size()) {
    auto& e = l.requests[l.unsettled];
    if (e.call && !e.call->ended())
      break;
    settle_entry(e);
    ++l.unsettled;
  }
}

void CallLog::bound(SysClock::time_point now) {
  // The oldest go first: beyond the count, or past the ttl; one whose call still runs
  // stops it (it is never forgotten, nor anything after it, until it ends).
  auto& list = lists().requests;
  auto& unsettled = lists().unsettled;
  while (!list.empty()) {
    auto& front = list.front();
    settle_entry(front);
    if (front.call)
      break;
    bool over = list.size() > limits().request_ids;
    if (!over && !front.dead && now - front.at <= limits().request_ttl)
      break;
    list.pop_front();
    if (unsettled > 0)
      --unsettled;
  }
}

CallLog::Seen CallLog::lookup(const std::string& request_id, std::uint64_t fingerprint,
                              SysClock::time_point now) {
  // The newest entry with this id (an older dead one may remain); only it is brought up
  // to date here.
  Seen seen;
  if (!lists_)
    return seen;
  auto& list = lists_->requests;
  auto e = std::find_if(list.rbegin(), list.rend(),
                        [&](const RequestEntry& x) { return x.request_id == request_id; });
  if (e == list.rend())
    return seen;
  settle_entry(*e);
  if (e->dead || (!e->call && now - e->at > limits().request_ttl))
    return seen;
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
  settle_ended(); // lets go of the calls that ended: a session holds few CallStates
  RequestEntry e;
  e.request_id = request_id;
  e.fingerprint = fingerprint;
  e.call = call;
  e.committed.request_id = request_id;
  e.committed.input_hash = fingerprint;
  e.at = now;
  e.committed.at = now;
  lists().requests.push_back(std::move(e));
  bound(now);
}

void CallLog::restore(const std::vector<StoredRequest>& requests, SysClock::time_point now) {
  // Called once, when the session is loaded: nothing is logged yet.
  if (requests.empty())
    return;
  auto& list = lists().requests;
  for (auto& r : requests) {
    RequestEntry e;
    e.request_id = r.request_id;
    e.fingerprint = r.input_hash;
    e.committed = r;
    e.at = r.at;
    list.push_back(std::move(e));
  }
  std::stable_sort(list.begin(), list.end(),
                   [](const RequestEntry& a, const RequestEntry& b) { return a.at < b.at; });
  lists().unsettled = list.size();
  bound(now);
}

std::vector<StoredRequest> CallLog::committed() {
  std::vector<StoredRequest> out;
  if (!lists_)
    return out;
  for (auto& e : lists_->requests) {
    settle_entry(e);
    if (!e.call && !e.dead)
      out.push_back(e.committed);
  }
  return out;
}

} // namespace agentrt::detail
