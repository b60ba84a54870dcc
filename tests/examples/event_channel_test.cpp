// EventChannel: pushed events awaited from Asio coroutines, in order, each call its own.

#include "asio_events/event_channel.hpp"
#include "support/config.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::run_with_time_limit;
using agentrt_test::test_config;
namespace net = boost::asio;

namespace {

/// Five chunks, 2 ms apart, naming the session.
Task<std::string> five_chunks(AsyncTurn& t) {
  for (int i = 1; i <= 5; ++i) {
    if (!co_await t.sleep(2ms))
      co_return "";
    t.emit(t.session_id() + ":" + std::to_string(i));
  }
  co_return "done";
}

struct Seen {
  std::vector<EventKind> kinds;
  std::vector<std::uint64_t> seqs;
  std::string chunks;
  bool foreign = false;
  bool ended = false;
};

/// Invokes one call and reads its events through a channel until the channel ends.
net::awaitable<void> read_call(Runtime& rt, std::string session, Seen& seen) {
  auto channel = asio_events::EventChannel::make();
  Request r;
  r.agent = "co";
  r.session_id = session;
  r.input = "go";
  r.on_event = channel->sink();
  auto call = rt.invoke(std::move(r));
  if (!call)
    co_return;
  for (;;) {
    auto e = co_await channel->async_next(net::use_awaitable);
    if (!e)
      break;
    seen.kinds.push_back(e->kind);
    seen.seqs.push_back(e->seq);
    seen.foreign = seen.foreign || e->session_id != session || e->call_id != call->id();
    if (e->kind == EventKind::chunk)
      seen.chunks += e->data + " ";
  }
  seen.ended = true;
}

} // namespace

TEST_CASE("an Asio coroutine awaits a call's pushed events in order until the end",
          "[asio][push]") {
  run_with_time_limit(60s, "event channel", [] {
    Runtime rt{test_config()};
    rt.register_handler("co", five_chunks);
    net::io_context io;
    constexpr int n = 100;
    std::vector<Seen> seen(n);
    for (int i = 0; i < n; ++i)
      net::co_spawn(io, read_call(rt, "s" + std::to_string(i), seen[i]), net::detached);
    io.run(); // returns once every reader has seen its call end
    int exact = 0;
    for (int i = 0; i < n; ++i) {
      auto s = "s" + std::to_string(i);
      std::vector<EventKind> kinds{EventKind::started, EventKind::chunk, EventKind::chunk,
                                   EventKind::chunk,   EventKind::chunk, EventKind::chunk,
                                   EventKind::completed};
      std::vector<std::uint64_t> seqs{1, 2, 3, 4, 5, 6, 7};
      exact += seen[i].ended && !seen[i].foreign && seen[i].kinds == kinds && seen[i].seqs == seqs
               && seen[i].chunks == s + ":1 " + s + ":2 " + s + ":3 " + s + ":4 " + s + ":5 ";
    }
    CHECK(exact == n);
  });
}
