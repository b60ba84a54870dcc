#pragma once

// HealthProbe: asks GET <health url> every `period` on one keep-alive connection of its own
// (reconnecting when the server closes it) while a load run goes on, and keeps each
// answer's latency. A probe that fails (no connection, no answer within 5 s, a status
// other than 200) is counted and its first reason kept. One probe at a time: a slow answer
// delays the next tick rather than piling probes up. Everything runs on its own strand.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sse_load {

class HealthProbe {
public:
  using Clock = std::chrono::steady_clock;

  HealthProbe(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint at, std::string host,
              std::string target, std::chrono::milliseconds period)
    : strand_(boost::asio::make_strand(io)), stream_(strand_), timer_(strand_), at_(at),
      host_(std::move(host)), target_(std::move(target)), period_(period) {
    // nop
  }

  void start() {
    boost::asio::post(strand_, [this] {
      next_ = Clock::now();
      probe();
    });
  }

  /// Stops probing; a probe in flight is dropped uncounted.
  void stop() {
    boost::asio::post(strand_, [this] {
      stopping_ = true;
      timer_.cancel();
      stream_.close();
    });
  }

  /// Latencies of the probes answered 200, in ms (read once the io_context has stopped).
  const std::vector<double>& latencies_ms() const { return latencies_; }
  std::uint64_t failures() const { return failures_; }
  const std::string& first_failure() const { return first_failure_; }

private:
  void probe() {
    if (stopping_)
      return;
    sent_ = Clock::now();
    stream_.expires_after(std::chrono::seconds(5));
    if (connected_)
      return write();
    stream_.async_connect(at_, [this](boost::beast::error_code ec) {
      if (stopping_)
        return;
      if (ec)
        return failed("connect: " + ec.message());
      connected_ = true;
      write();
    });
  }

  void write() {
    namespace http = boost::beast::http;
    request_ = {http::verb::get, target_, 11};
    request_.set(http::field::host, host_);
    http::async_write(stream_, request_, [this](boost::beast::error_code ec, std::size_t) {
      if (stopping_)
        return;
      if (ec)
        return failed("write: " + ec.message());
      response_ = {};
      http::async_read(
          stream_, buffer_, response_, [this](boost::beast::error_code ec, std::size_t) {
            if (stopping_)
              return;
            if (ec)
              return failed("read: " + ec.message());
            if (response_.result() != http::status::ok)
              return failed("HTTP " + std::to_string(response_.result_int()));
            latencies_.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
            if (!response_.keep_alive())
              disconnect();
            schedule();
          });
    });
  }

  void failed(std::string reason) {
    if (failures_++ == 0)
      first_failure_ = std::move(reason);
    disconnect();
    schedule();
  }

  void disconnect() {
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  void schedule() {
    if (stopping_)
      return;
    next_ += period_;
    if (auto now = Clock::now(); next_ < now)
      next_ = now;
    timer_.expires_at(next_);
    timer_.async_wait([this](boost::beast::error_code ec) {
      if (!ec)
        probe();
    });
  }

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::beast::tcp_stream stream_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::tcp::endpoint at_;
  std::string host_;
  std::string target_;
  std::chrono::milliseconds period_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::empty_body> request_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  Clock::time_point next_{};
  Clock::time_point sent_{};
  bool connected_ = false;
  bool stopping_ = false;
  std::vector<double> latencies_;
  std::uint64_t failures_ = 0;
  std::string first_failure_;
};

} // namespace sse_load
