#pragma once

// CallStream: one SSE answer over one call, new or resumed. The Runtime pushes the call's
// events to it (on a runtime thread, one at a time, in order); the first decides how the
// exchange is answered: a call refused before it started (its first event is a failure)
// gets its HTTP status and a JSON error, anything else a 200 event stream that ends after
// the terminal event. A resumed stream skips what the client already has.

#include "http/exchange.hpp"
#include "streams/call_table.hpp"

#include <agentrt/call.hpp>
#include <agentrt/event.hpp>
#include <agentrt/result.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace agentrt::server::detail {

struct ServerContext;

class CallStream : public std::enable_shared_from_this<CallStream> {
public:
  /// `entry`: the call's entry in the CallTable, if the server knows the call. `after_seq`:
  /// for a resumed stream, the last event the client has.
  CallStream(ServerContext& ctx, const ExchangePtr& ex, std::shared_ptr<CallTable::Entry> entry,
             bool resumed, std::uint64_t after_seq);

  /// The callback for Request::on_event or Runtime::attach. It holds this stream until the
  /// Runtime lets go of it (after the terminal event).
  std::function<void(const Event&)> callback();

  /// The call could not start (invoke or attach failed): answers with the error.
  void refused(const Error& error);

  /// Keeps an attach handle as long as the stream.
  void hold(Call handle) { handle_ = std::move(handle); }

private:
  void on_event(const Event& e);
  void open(const Event& first);
  void on_client_gone();
  std::shared_ptr<Exchange> take_exchange();

  ServerContext& ctx_;
  GatePtr gate_;
  std::weak_ptr<Exchange> ex_; ///< strong in ctx.parked until answered
  const Exchange* parked_;
  std::shared_ptr<CallTable::Entry> entry_;
  const bool resumed_;
  const std::uint64_t after_seq_;
  std::atomic<bool> answered_{false};
  // Touched by on_event only (the Runtime calls it one at a time).
  std::optional<StreamSink> sink_;
  Call handle_;
};

} // namespace agentrt::server::detail
