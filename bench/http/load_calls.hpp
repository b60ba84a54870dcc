#pragma once

// Sustained HTTP calls against agentrt-server (agentrt-sse-load --unary / --seconds): N
// lanes, each with one call in flight, starting its next as soon as the last has ended,
// for a while (or a number of calls). A unary lane sends POST /v1/agents/{agent}/invoke on
// one keep-alive connection of its own (reconnecting only when the server closes it); a
// stream lane sends POST /v1/agents/{agent}/stream on a new connection per stream (the
// server closes a stream's connection after its terminal event). Every answer is checked
// and counted into the lane's Tally (call_report.hpp): status 200, the lane's session id
// (header and body, or every event: SseCheck), the turn, and for echo-agent the exact
// output; a stream's `chunk` events concatenated are its output. Each lane runs on its own
// strand.

#include "call_report.hpp"
#include "load_streams.hpp" // net, beast, http, tcp, Clock, url_encode
#include "sse_check.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sse_load {

struct CallSpec {
  std::string host;        // the Host header
  std::string path_prefix; // before /v1/agents/...
  std::string agent = "echo-agent";
  std::string input = "hello";
  std::vector<std::pair<std::string, std::string>> params;
  std::string token;
  std::string run_id;
  bool unary = true;
  std::size_t lanes = 64;
  std::size_t sessions = 64; // unary: lane j's m-th call on session (j + m * lanes) % sessions
  std::optional<double> seconds;
  std::uint64_t calls = 0; // 0: no limit
  std::chrono::milliseconds timeout{30'000};
};

class CallLoad;

class CallLane {
public:
  CallLane(CallLoad& load, std::size_t index, Executor ex);

  void next();
  const Tally& tally() const { return tally_; }

private:
  void connect();
  void write();
  void read();
  void on_read(beast::error_code ec);
  void ended(std::string why);
  std::string check_unary();
  std::string check_stream();
  void close();

  CallLoad& load_;
  std::size_t index_;
  net::basic_stream_socket<tcp, Executor> socket_;
  net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor> timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::optional<SseCheck> check_;
  std::size_t fed_ = 0; // of the stream's body, what SseCheck has read
  std::string session_;
  std::uint64_t made_ = 0;  // unary: the calls this lane has made (its session round-robin)
  std::uint64_t call_ = 0;  // the call in flight: a timer of an earlier one does nothing
  Clock::time_point start_{};
  std::optional<Clock::time_point> first_;
  bool timed_out_ = false;
  Tally tally_;
};

class CallLoad {
public:
  CallLoad(net::io_context& io, CallSpec spec, tcp::endpoint at)
    : io_(io), spec_(std::move(spec)), at_(at) {
    if (!spec_.params.empty()) {
      auto sorted = spec_.params;
      std::sort(sorted.begin(), sorted.end());
      suffix_ = " [";
      for (const auto& [k, v] : sorted)
        suffix_ += (suffix_.size() > 2 ? ", " : "") + k + "=" + v;
      suffix_ += "]";
    }
  }

  /// Starts the lanes; `all_done` runs (on some I/O thread) when the last has stopped.
  void begin(std::function<void()> all_done) {
    all_done_ = std::move(all_done);
    active_ = spec_.lanes;
    start_ = Clock::now();
    until_ = spec_.seconds ? start_ + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(*spec_.seconds))
                           : Clock::time_point::max();
    for (std::size_t i = 0; i < spec_.lanes; ++i)
      lanes_.push_back(std::make_unique<CallLane>(*this, i, net::make_strand(io_)));
    for (auto& l : lanes_)
      l->next();
  }

  const CallSpec& spec() const { return spec_; }
  const tcp::endpoint& endpoint() const { return at_; }

  std::string session(std::size_t i) const {
    return "http-load-" + spec_.run_id + "-" + std::to_string(i);
  }

  std::optional<std::string> expected_output(std::uint64_t turn) const {
    if (spec_.agent != "echo-agent")
      return std::nullopt;
    return "echo: " + spec_.input + suffix_ + " (task " + std::to_string(turn) + ")";
  }

  bool may_start() {
    if (spec_.calls && started_.fetch_add(1, std::memory_order_relaxed) >= spec_.calls)
      return false;
    return Clock::now() < until_;
  }

  void lane_done() {
    if (--active_ == 0) {
      end_ = Clock::now();
      all_done_();
    }
  }

  /// After the io_context has stopped: every lane's tally, and the wall time in seconds.
  Tally tally() const {
    Tally all;
    for (auto& l : lanes_)
      all.merge(l->tally());
    return all;
  }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }

private:
  net::io_context& io_;
  CallSpec spec_;
  tcp::endpoint at_;
  std::string suffix_;
  std::vector<std::unique_ptr<CallLane>> lanes_;
  std::function<void()> all_done_;
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::size_t> active_{0};
  Clock::time_point start_{}, until_{}, end_{};
};

// -- CallLane -------------------------------------------------------------------------------

inline CallLane::CallLane(CallLoad& load, std::size_t index, Executor ex)
  : load_(load), index_(index), socket_(ex), timer_(ex) {
  // nop
}

inline void CallLane::next() {
  net::post(socket_.get_executor(), [this] {
    if (!load_.may_start())
      return load_.lane_done();
    const auto& spec = load_.spec();
    session_ = spec.unary ? load_.session((index_ + made_++ * spec.lanes) % spec.sessions)
                          : load_.session(index_);
    request_ = {};
    request_.method(http::verb::post);
    request_.target(spec.path_prefix + "/v1/agents/" + spec.agent
                    + (spec.unary ? "/invoke" : "/stream"));
    request_.version(11);
    request_.set(http::field::host, spec.host);
    request_.set(http::field::content_type, "application/json");
    if (!spec.unary)
      request_.set(http::field::accept, "text/event-stream");
    if (!spec.token.empty())
      request_.set(http::field::authorization, "Bearer " + spec.token);
    nlohmann::json body{{"input", spec.input}, {"session_id", session_}};
    for (auto& [k, v] : spec.params)
      body["params"][k] = v;
    request_.body() = body.dump();
    request_.keep_alive(spec.unary);
    request_.prepare_payload();
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    if (spec.unary)
      check_.reset();
    else
      check_.emplace(session_);
    fed_ = 0;
    first_.reset();
    timed_out_ = false;
    start_ = Clock::now();
    timer_.expires_after(spec.timeout);
    timer_.async_wait([this, call = ++call_](beast::error_code ec) {
      if (ec || call != call_)
        return;
      timed_out_ = true;
      close(); // the pending operation fails
    });
    if (socket_.is_open())
      write();
    else
      connect();
  });
}

inline void CallLane::connect() {
  socket_.async_connect(load_.endpoint(), [this](beast::error_code ec) {
    if (ec)
      return ended("connect: " + ec.message());
    socket_.set_option(tcp::no_delay(true), ec);
    write();
  });
}

inline void CallLane::write() {
  http::async_write(socket_, request_, [this](beast::error_code ec, std::size_t) {
    if (ec)
      return ended("write the request: " + ec.message());
    read();
  });
}

inline void CallLane::read() {
  http::async_read_some(socket_, buffer_, *parser_,
                        [this](beast::error_code ec, std::size_t) { on_read(ec); });
}

inline void CallLane::on_read(beast::error_code ec) {
  if (ec)
    return ended((timed_out_ ? std::string{"timed out: "} : std::string{"read: "})
                 + ec.message());
  if (check_ && parser_->is_header_done() && parser_->get().result() == http::status::ok) {
    const auto& body = parser_->get().body();
    if (body.size() > fed_) {
      bool first = check_->events() == 0;
      check_->feed(std::string_view{body}.substr(fed_));
      fed_ = body.size();
      if (first && check_->events() > 0)
        first_ = Clock::now();
    }
  }
  if (!parser_->is_done())
    return read();
  ended(check_ ? check_stream() : check_unary());
}

inline std::string CallLane::check_unary() {
  const auto& res = parser_->get();
  if (res.result() != http::status::ok)
    return "HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200);
  if (res["X-Session-Id"] != session_)
    return "X-Session-Id " + std::string{res["X-Session-Id"]};
  auto j = nlohmann::json::parse(res.body(), nullptr, false);
  if (!j.is_object())
    return "the reply is not a JSON object";
  if (j.contains("error"))
    return "error: " + j["error"].dump();
  if (j.value("session_id", "") != session_)
    return "session_id " + j.value("session_id", "(none)");
  auto turn = j.value("turn", std::uint64_t{0});
  if (turn == 0 || !j.contains("call_id"))
    return "no turn or call_id";
  if (auto want = load_.expected_output(turn); want && j.value("output", "") != *want)
    return "output \"" + j.value("output", "") + "\", expected \"" + *want + "\"";
  return {};
}

inline std::string CallLane::check_stream() {
  const auto& res = parser_->get();
  if (res.result() != http::status::ok)
    return "HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200);
  if (res[http::field::content_type].substr(0, 17) != "text/event-stream")
    return "200 with Content-Type " + std::string{res[http::field::content_type]};
  if (!check_->end())
    return check_->error();
  if (check_->content() != check_->last_data())
    return "chunks \"" + check_->content() + "\" are not the output \"" + check_->last_data()
           + "\"";
  if (check_->last_turn() == 0)
    return "completed without a turn";
  if (auto want = load_.expected_output(check_->last_turn()); want && check_->last_data() != *want)
    return "output \"" + check_->last_data() + "\", expected \"" + *want + "\"";
  return {};
}

inline void CallLane::ended(std::string why) {
  ++call_; // its timer, if it has fired already, finds another call
  timer_.cancel();
  auto us = std::chrono::duration<double, std::micro>(Clock::now() - start_).count();
  if (why.empty()) {
    if (check_) {
      tally_.ok(us, check_->events(), check_->chunk_events());
      tally_.first_chunk_us.push_back(
        std::chrono::duration<double, std::micro>(*first_ - start_).count());
    } else {
      tally_.ok(us);
    }
  } else {
    tally_.error(session_ + ": " + why);
  }
  // A stream's connection ends with it; a unary one is kept unless the server closes it.
  if (!why.empty() || !load_.spec().unary || !parser_->get().keep_alive())
    close();
  next();
}

inline void CallLane::close() {
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  buffer_.clear();
}

} // namespace sse_load
