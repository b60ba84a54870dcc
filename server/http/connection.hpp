#pragma once

// Connection: one client's TCP connection. Reads requests one after the other (keep-alive),
// hands each to the router, writes the answer, and for an event stream writes chunks as
// they are queued until the stream ends; then the connection closes. Everything runs on
// the connection's strand; other threads reach it through Exchange and StreamSink, which
// post.

#include "http/exchange.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace agentrt::server::detail {

struct ServerContext;

class Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx);
  ~Connection();

  /// Starts reading the first request.
  void start();

  // Called by Exchange and StreamSink (any thread): they post to the strand.
  void respond(std::shared_ptr<Exchange> ex, Response response);
  void open_stream(std::shared_ptr<Exchange> ex, Headers headers,
                   std::function<void()> on_abort);
  void stream_write(std::string_view bytes);
  void stream_finish();
  /// Called by the Doorbell: takes the outbox on the strand.
  void take_outbox_soon();

private:
  void read_request();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void on_read(boost::beast::error_code ec);
  void refuse(unsigned status, std::string_view code, std::string message);
  void write_response(std::shared_ptr<Exchange> ex, Response response);
  void after_response(bool keep_alive);
  void flush();
  void take_outbox();
  void schedule_locked();
  void watch_for_close();
  void arm_keepalive();
  void abort_stream();
  void finish_log(const Exchange& ex, unsigned status, std::size_t bytes);
  void add_common_headers(const Exchange* ex, Headers& headers) const;

  boost::beast::tcp_stream stream_;
  ServerContext& ctx_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;

  // The answer being written.
  std::shared_ptr<void> response_;
  std::string head_; ///< a stream's header block

  // An open stream.
  std::shared_ptr<Exchange> stream_ex_;
  std::deque<std::string> pending_; ///< chunks not yet written, in order
  std::size_t pending_bytes_ = 0;
  std::size_t stream_bytes_ = 0;
  std::vector<std::string> writing_; ///< the chunks of the write in progress
  bool write_in_progress_ = false;
  bool streaming_ = false;
  bool finishing_ = false; ///< finish() was called: close once flushed
  bool closed_ = false;
  bool wrote_since_tick_ = false;
  std::function<void()> on_abort_;
  boost::asio::steady_timer keepalive_;

  /// What other threads write to an open stream: appended under a lock, taken by the strand
  /// in one go, so a burst of events costs one post and one write.
  struct Outbox {
    std::mutex mu;
    std::string data;       // guarded by mu: framed bytes not yet taken
    bool scheduled = false; // guarded by mu: a take is posted
    bool finish = false;    // guarded by mu: the body's end is in `data`
    bool closed = false;    // guarded by mu: the stream is gone, drop writes
    bool chunked = true;    // guarded by mu
  } outbox_;
  char probe_[1]; ///< where reads go while a stream is open (they only detect a close)
};

} // namespace agentrt::server::detail
