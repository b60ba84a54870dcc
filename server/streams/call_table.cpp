#include "streams/call_table.hpp"

namespace agentrt::server::detail {

std::string CallTable::key(std::string_view agent, std::string_view session,
                           std::uint64_t call) {
  std::string k;
  k.reserve(agent.size() + session.size() + 24);
  k.append(agent).append(1, '\n').append(session).append(1, '\n').append(std::to_string(call));
  return k;
}

std::shared_ptr<CallTable::Entry> CallTable::make(bool streamed) {
  auto e = std::make_shared<Entry>();
  e->attached = streamed ? 1 : 0;
  return e;
}

void CallTable::add(const std::shared_ptr<Entry>& entry, Call call,
                    std::function<void(const Reply&)> then) {
  auto k = key(call.agent(), call.session_id(), call.id());
  std::uint64_t round = 0;
  bool orphaned = false;
  {
    std::lock_guard guard{entry->mu};
    entry->call = std::move(call);
    entry->key = k;
    orphaned = entry->orphaned;
    round = entry->grace_round;
  }
  {
    std::lock_guard guard{mu_};
    calls_[k] = entry;
  }
  // Runs at once (on this thread) if the call already ended; never under a lock of ours.
  entry->call.on_done([this, gate = gate_, k, then = std::move(then)](const Reply& r) {
    gate->run([&] {
      metrics_.call_done(r);
      remove(k);
      if (then)
        then(r);
    });
  });
  if (orphaned) // its stream left before the call was known
    start_grace(entry, round);
}

std::shared_ptr<CallTable::Entry> CallTable::find(const std::string& key) const {
  std::lock_guard guard{mu_};
  auto i = calls_.find(key);
  return i == calls_.end() ? nullptr : i->second;
}

void CallTable::remove(const std::string& key) {
  std::lock_guard guard{mu_};
  calls_.erase(key);
  if (calls_.empty())
    emptied_.notify_all();
}

void CallTable::attach(const std::shared_ptr<Entry>& entry) {
  std::lock_guard guard{entry->mu};
  ++entry->attached;
  entry->orphaned = false;
  ++entry->grace_round; // a timer armed before finds a newer round and does nothing
}

void CallTable::detach(const std::shared_ptr<Entry>& entry) {
  std::uint64_t round = 0;
  {
    std::lock_guard guard{entry->mu};
    if (--entry->attached > 0)
      return;
    entry->orphaned = true;
    round = ++entry->grace_round;
    if (!entry->call.valid())
      return; // add() starts the grace when the call arrives
  }
  start_grace(entry, round);
}

void CallTable::start_grace(const std::shared_ptr<Entry>& entry, std::uint64_t round) {
  // Never cancelled here: the caller may be inside the gate, and a cancel delivers the
  // call's last event (which enters the gate) on this very thread.
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, grace_);
  timer->async_wait([this, entry, round, timer](boost::system::error_code ec) {
    if (!ec)
      cancel_if_orphaned(entry, round);
  });
}

void CallTable::cancel_if_orphaned(const std::shared_ptr<Entry>& entry, std::uint64_t round) {
  {
    std::lock_guard guard{entry->mu};
    if (!entry->orphaned || entry->grace_round != round || !entry->call.valid())
      return;
  }
  entry->call.cancel(); // its terminal event and on_done may run here: no lock held
}

std::size_t CallTable::wait_empty(std::chrono::milliseconds wait) {
  std::unique_lock guard{mu_};
  emptied_.wait_for(guard, wait, [&] { return calls_.empty(); });
  return calls_.size();
}

} // namespace agentrt::server::detail
