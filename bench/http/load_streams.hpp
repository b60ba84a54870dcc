#pragma once

// The streams of a load run. `Load` opens N SSE streams on one io_context, at most
// `connect_batch` of them between their connect and their response headers at a time (so
// a server's accept queue never overflows into SYN retries), each stream on its own strand
// with its own session id; `Stream` sends the request, reads the body as it comes and hands
// it to an SseCheck. Each stream writes only its own StreamResult; the results are read
// once the io_context has run out of work. Kept lean (a concrete executor, no reference
// counts, one idle timer per stream): the client shares the machine with the server.

#include "sse_check.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse_load {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct StreamSpec {
  std::string host;        // the Host header
  std::string path_prefix; // before /v1/agents/...
  std::string agent = "assistant";
  bool post = true;
  std::string input = "hello";
  std::vector<std::pair<std::string, std::string>> params; // the turn's params
  std::string run_id;
  std::string token;
  std::size_t streams = 100;
  std::size_t connect_batch = 1000;
  std::optional<std::uint64_t> expect_events;
  std::chrono::milliseconds idle_timeout{60'000}; // a common proxy read timeout
};

struct StreamResult {
  Clock::time_point start{};
  std::optional<Clock::time_point> headers;
  std::optional<Clock::time_point> first_event;
  Clock::time_point end{};
  bool ok = false;
  std::uint64_t events = 0;
  std::uint64_t comments = 0;
  std::string error;
};

inline std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

using Executor = net::strand<net::io_context::executor_type>;

class Load;

/// One stream. Its handlers run on its strand and hold a plain `this`: the Load owns every
/// Stream until the io_context has stopped.
class Stream {
public:
  Stream(Load& load, std::size_t index, Executor ex);

  /// Connects, sends the request and reads the stream to its end.
  void start();

private:
  void on_connect(beast::error_code ec);
  void on_header(beast::error_code ec);
  void read_body();
  void on_body(beast::error_code ec);
  void end_of_body();
  void watch();
  void fail(std::string reason);
  void finish();
  void left_opening();
  StreamResult& result();

  Load& load_;
  std::size_t index_;
  net::basic_stream_socket<tcp, Executor> socket_;
  net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor> idle_timer_;
  Clock::time_point last_read_{};
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response_parser<http::buffer_body> parser_;
  std::array<char, 2048> body_{};
  SseCheck check_;
  std::string error_body_; // the start of a non-200 answer's body
  bool opening_ = true;    // counted against the connect batch
  bool finished_ = false;
};

class Load {
public:
  Load(net::io_context& io, StreamSpec spec, tcp::endpoint at)
    : io_(io), spec_(std::move(spec)), at_(at), launcher_(net::make_strand(io)),
      results_(spec_.streams) {
    streams_.reserve(spec_.streams);
  }

  /// Starts opening the streams; `all_done` runs (on some I/O thread) when the last ends.
  void begin(std::function<void()> all_done) {
    all_done_ = std::move(all_done);
    remaining_ = spec_.streams;
    net::post(launcher_, [this] { launch(); });
  }

  const StreamSpec& spec() const { return spec_; }
  const tcp::endpoint& endpoint() const { return at_; }
  StreamResult& result(std::size_t i) { return results_[i]; }
  const std::vector<StreamResult>& results() const { return results_; }

  std::string session_id(std::size_t i) const {
    return "load-" + spec_.run_id + "-" + std::to_string(i);
  }

  /// A stream got its response headers, or failed before: another may connect.
  void opened() {
    net::post(launcher_, [this] {
      --opening_;
      launch();
    });
  }

  void done() {
    if (--remaining_ == 0)
      all_done_();
  }

private:
  void launch() {
    while (opening_ < spec_.connect_batch && streams_.size() < spec_.streams) {
      ++opening_;
      streams_.push_back(std::make_unique<Stream>(*this, streams_.size(), net::make_strand(io_)));
      streams_.back()->start();
    }
  }

  net::io_context& io_;
  StreamSpec spec_;
  tcp::endpoint at_;
  Executor launcher_;
  std::vector<StreamResult> results_;
  std::vector<std::unique_ptr<Stream>> streams_; // launcher strand only, until the end
  std::function<void()> all_done_;
  std::atomic<std::size_t> remaining_{0};
  std::size_t opening_ = 0; // launcher strand only
};

// -- Stream -----------------------------------------------------------------------------------

inline Stream::Stream(Load& load, std::size_t index, Executor ex)
  : load_(load), index_(index), socket_(ex), idle_timer_(ex), check_(load.session_id(index)) {
  parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
}

inline StreamResult& Stream::result() {
  return load_.result(index_);
}

inline void Stream::start() {
  net::post(socket_.get_executor(), [this] {
    const auto& spec = load_.spec();
    auto sid = load_.session_id(index_);
    auto target = spec.path_prefix + "/v1/agents/" + spec.agent + "/stream";
    if (spec.post) {
      request_.method(http::verb::post);
      request_.target(target);
      request_.set(http::field::content_type, "application/json");
      nlohmann::json body{{"input", spec.input}, {"session_id", sid}};
      for (auto& [k, v] : spec.params)
        body["params"][k] = v;
      request_.body() = body.dump();
    } else {
      request_.method(http::verb::get);
      auto query = "?input=" + url_encode(spec.input) + "&session_id=" + url_encode(sid);
      for (auto& [k, v] : spec.params)
        query += "&param." + url_encode(k) + "=" + url_encode(v);
      request_.target(target + query);
    }
    request_.version(11);
    request_.set(http::field::host, spec.host);
    request_.set(http::field::accept, "text/event-stream");
    if (!spec.token.empty())
      request_.set(http::field::authorization, "Bearer " + spec.token);
    request_.prepare_payload();
    result().start = last_read_ = Clock::now();
    watch();
    socket_.async_connect(load_.endpoint(), [this](beast::error_code ec) { on_connect(ec); });
  });
}

/// Fails the stream once nothing has come for the idle timeout (one timer per stream, not
/// one per read).
inline void Stream::watch() {
  idle_timer_.expires_at(last_read_ + load_.spec().idle_timeout);
  idle_timer_.async_wait([this](beast::error_code ec) {
    if (ec || finished_)
      return;
    if (Clock::now() - last_read_ < load_.spec().idle_timeout)
      return watch();
    fail("nothing for " + std::to_string(load_.spec().idle_timeout.count()) + " ms after "
         + std::to_string(check_.events()) + " events");
  });
}

inline void Stream::on_connect(beast::error_code ec) {
  if (ec)
    return fail("connect: " + ec.message());
  socket_.set_option(tcp::no_delay(true), ec);
  http::async_write(socket_, request_, [this](beast::error_code ec, std::size_t) {
    if (ec)
      return fail("write the request: " + ec.message());
    http::async_read_header(socket_, buffer_, parser_,
                            [this](beast::error_code ec, std::size_t) { on_header(ec); });
  });
}

inline void Stream::on_header(beast::error_code ec) {
  if (ec)
    return fail("read the response headers: " + ec.message());
  result().headers = last_read_ = Clock::now();
  left_opening();
  const auto& res = parser_.get();
  if (res.result() == http::status::ok) {
    auto type = res[http::field::content_type];
    if (type.substr(0, 17) != "text/event-stream")
      return fail("200 with Content-Type \"" + std::string{type} + "\"");
  }
  read_body();
}

inline void Stream::read_body() {
  if (parser_.is_done())
    return end_of_body();
  parser_.get().body().data = body_.data();
  parser_.get().body().size = body_.size();
  parser_.get().body().more = true;
  http::async_read_some(socket_, buffer_, parser_,
                        [this](beast::error_code ec, std::size_t) { on_body(ec); });
}

inline void Stream::on_body(beast::error_code ec) {
  if (ec == http::error::need_buffer)
    ec = {};
  if (finished_)
    return;
  last_read_ = Clock::now();
  std::string_view got{body_.data(), body_.size() - parser_.get().body().size};
  if (parser_.get().result() != http::status::ok) {
    if (error_body_.size() < 300)
      error_body_.append(got.substr(0, 300 - error_body_.size()));
  } else if (!got.empty()) {
    bool first = check_.events() == 0;
    if (!check_.feed(got))
      return fail(check_.error());
    if (first && check_.events() > 0)
      result().first_event = last_read_;
  }
  if (ec == http::error::end_of_stream)
    return end_of_body();
  if (ec)
    return fail("read the stream after " + std::to_string(check_.events())
                + " events: " + ec.message());
  read_body();
}

inline void Stream::end_of_body() {
  const auto& res = parser_.get();
  if (res.result() != http::status::ok)
    return fail("HTTP " + std::to_string(res.result_int()) + ": " + error_body_);
  if (!check_.end())
    return fail(check_.error());
  if (auto want = load_.spec().expect_events; want && check_.events() != *want)
    return fail(std::to_string(check_.events()) + " events, expected " + std::to_string(*want));
  finish();
}

inline void Stream::fail(std::string reason) {
  if (finished_)
    return;
  result().error = std::move(reason);
  finish();
}

inline void Stream::finish() {
  if (finished_)
    return;
  finished_ = true;
  left_opening();
  beast::error_code ignored;
  idle_timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  auto& r = result();
  r.end = Clock::now();
  r.events = check_.events();
  r.comments = check_.comments();
  r.ok = r.error.empty();
  load_.done();
}

inline void Stream::left_opening() {
  if (std::exchange(opening_, false))
    load_.opened();
}

} // namespace sse_load
