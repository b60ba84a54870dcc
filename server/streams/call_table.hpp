#pragma once

// CallTable: the calls this server made that have not ended. The cancel route finds a call
// here; a stream whose client went away leaves its call here for the resume grace, and
// a client that resumes (Last-Event-ID) takes it back; drain waits for the table to empty.

#include "metrics/metrics.hpp"
#include "streams/gate.hpp"

#include <agentrt/call.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace agentrt::server::detail {

class CallTable {
public:
  /// One call. Made before the call is invoked (its stream may end before invoke returns).
  struct Entry {
    std::mutex mu;
    Call call;               ///< guarded by mu; set once
    std::string key;         ///< set with the call
    int attached = 0;        ///< guarded by mu: streams writing its events
    bool orphaned = false;   ///< guarded by mu: a stream left and nobody took over yet
    std::uint64_t grace_round = 0; ///< guarded by mu: which grace timer may cancel
  };

  CallTable(boost::asio::io_context& io, GatePtr gate, Metrics& metrics,
            std::chrono::milliseconds grace)
    : io_(io), gate_(std::move(gate)), metrics_(metrics), grace_(grace) {}

  static std::string key(std::string_view agent, std::string_view session, std::uint64_t call);

  /// A new entry with one stream attached (or none, for a call answered as a whole).
  std::shared_ptr<Entry> make(bool streamed);
  /// Registers `entry` holding `call`; once `call` ends it leaves the table by itself (and
  /// `then` runs with its outcome, inside the gate). If its stream already left, the grace
  /// starts now.
  void add(const std::shared_ptr<Entry>& entry, Call call,
           std::function<void(const Reply&)> then = {});
  std::shared_ptr<Entry> find(const std::string& key) const;

  /// Another stream writes the call's events: no grace timer will cancel it meanwhile.
  void attach(const std::shared_ptr<Entry>& entry);
  /// A stream of the call lost its client. With no stream left the call is cancelled after
  /// the grace, unless a stream attaches first.
  void detach(const std::shared_ptr<Entry>& entry);

  /// Waits until the table is empty, at most `wait`; returns the calls left.
  std::size_t wait_empty(std::chrono::milliseconds wait);

private:
  void remove(const std::string& key);
  void start_grace(const std::shared_ptr<Entry>& entry, std::uint64_t round);
  void cancel_if_orphaned(const std::shared_ptr<Entry>& entry, std::uint64_t round);

  boost::asio::io_context& io_;
  GatePtr gate_;
  Metrics& metrics_;
  const std::chrono::milliseconds grace_;
  mutable std::mutex mu_;
  std::condition_variable emptied_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> calls_; // guarded by mu_
};

} // namespace agentrt::server::detail
