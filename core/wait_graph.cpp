#include "core/wait_graph.hpp"

#include <set>
#include <utility>

namespace agentrt::detail {

WaitEdge::WaitEdge(WaitEdge&& other) noexcept
  : graph_(std::exchange(other.graph_, nullptr)),
    waiter_(std::move(other.waiter_)),
    target_(std::move(other.target_)) {
  // nop
}

WaitEdge& WaitEdge::operator=(WaitEdge&& other) noexcept {
  if (this != &other) {
    release();
    graph_ = std::exchange(other.graph_, nullptr);
    waiter_ = std::move(other.waiter_);
    target_ = std::move(other.target_);
  }
  return *this;
}

WaitEdge::~WaitEdge() {
  release();
}

void WaitEdge::release() noexcept {
  if (auto* g = std::exchange(graph_, nullptr))
    g->remove(waiter_, target_);
}

std::optional<std::vector<SessionKey>> WaitGraph::add(const SessionKey& waiter,
                                                      const SessionKey& target,
                                                      WaitEdge& token) {
  MutexLock guard{mu_};
  if (auto back = path(target, waiter)) { // target already waits, through others, on waiter
    std::vector<SessionKey> cycle{waiter};
    cycle.insert(cycle.end(), back->begin(), back->end());
    return cycle;
  }
  edges_[waiter][target] += 1;
  token = WaitEdge{this, waiter, target};
  return std::nullopt;
}

void WaitGraph::remove(const SessionKey& waiter, const SessionKey& target) noexcept {
  MutexLock guard{mu_};
  auto i = edges_.find(waiter);
  if (i == edges_.end())
    return;
  auto j = i->second.find(target);
  if (j != i->second.end() && --j->second == 0)
    i->second.erase(j);
  if (i->second.empty())
    edges_.erase(i);
}

std::optional<std::vector<SessionKey>> WaitGraph::path(const SessionKey& from,
                                                       const SessionKey& to) const {
  // Depth-first over the (few) current waits; `trail` is the path to the node on top.
  std::vector<SessionKey> trail{from};
  std::vector<std::vector<SessionKey>> pending{{}};
  std::set<SessionKey> seen{from};
  if (from == to)
    return trail;
  auto next_of = [&](const SessionKey& k) AGENTRT_REQUIRES(mu_) {
    std::vector<SessionKey> out;
    if (auto i = edges_.find(k); i != edges_.end())
      for (auto& [t, n] : i->second)
        out.push_back(t);
    return out;
  };
  pending.back() = next_of(from);
  while (!trail.empty()) {
    if (pending.back().empty()) {
      trail.pop_back();
      pending.pop_back();
      continue;
    }
    auto k = pending.back().back();
    pending.back().pop_back();
    if (k == to) {
      trail.push_back(k);
      return trail;
    }
    if (!seen.insert(k).second)
      continue;
    trail.push_back(k);
    pending.push_back(next_of(k));
  }
  return std::nullopt;
}

std::map<SessionKey, std::map<SessionKey, int>> WaitGraph::edges() const {
  MutexLock guard{mu_};
  return edges_;
}

} // namespace agentrt::detail
