#pragma once

// CallStream: one SSE answer over one call, new or resumed. The Runtime pushes the call's
// events to it (on a runtime thread, one at a time, in order); the first decides how the
// exchange is answered: a call refused before it started (its first event is a failure)
// gets its HTTP status and a JSON error, anything else a 200 event stream that ends after
// the terminal event. A resumed stream skips what the client already has, and opens after
// a moment even if the call is quiet (a client reconnecting in the middle of a long tool
// call must not wait for headers).
//
// Every entry point runs inside the server's Gate.

#include "http/exchange.hpp"
#include "streams/call_table.hpp"

#include <agentrt/call.hpp>
#include <agentrt/event.hpp>
#include <agentrt/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace agentrt::server::detail {

struct ServerContext;

class CallStream : public std::enable_shared_from_this<CallStream> {
public:
  /// `entry`: the call's entry in the CallTable, if the server knows the call; this stream
  /// counts as attached to it. `call_id`/`after_seq`: for a resumed stream, the call and
  /// the last event the client has.
  CallStream(ServerContext& ctx, const ExchangePtr& ex, std::shared_ptr<CallTable::Entry> entry,
             bool resumed, std::uint64_t call_id = 0, std::uint64_t after_seq = 0);

  /// The callback for Request::on_event or Runtime::attach. It holds this stream until the
  /// Runtime lets go of it (after the terminal event).
  std::function<void(const Event&)> callback();

  /// The call could not start (invoke or attach failed): answers with the error.
  void refused(const Error& error);

  /// Keeps the attach handle of a resumed stream (cancelled when its client leaves), and
  /// opens the stream after `wait` if no event decided it before.
  void hold(Call handle, std::chrono::milliseconds wait);

private:
  void on_event(const Event& e);
  /// The exchange, once: whoever answers first takes it out of ctx.parked.
  std::shared_ptr<Exchange> take_locked();
  void open_locked(std::uint64_t call_id);
  void answer_locked(Response r, std::string_view session);
  void release_locked();
  void on_client_gone();

  ServerContext& ctx_;
  GatePtr gate_;
  std::weak_ptr<Exchange> ex_; ///< strong in ctx.parked until answered
  const Exchange* parked_;
  std::shared_ptr<CallTable::Entry> entry_;
  const bool resumed_;
  const std::uint64_t call_id_;
  const std::uint64_t after_seq_;

  std::mutex mu_; // events, the open timer and the client leaving meet here
  bool answered_ = false;          // guarded by mu_
  bool attached_ = false;          // guarded by mu_: counted in entry_
  std::optional<StreamSink> sink_; // guarded by mu_
  Call handle_;                    // guarded by mu_
};

} // namespace agentrt::server::detail
