#include "http/connection.hpp"

#include "http/dispatch.hpp"
#include "http/error_response.hpp"
#include "server_context.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace agentrt::server::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view sv(beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

/// No control characters: a value that came from a client can never split a header.
bool header_safe(std::string_view s) noexcept {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return false;
  return true;
}

bool session_id_like(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
          || c == '_' || c == ':' || c == '-'))
      return false;
  return true;
}

} // namespace

Connection::Connection(asio::ip::tcp::socket socket, ServerContext& ctx)
  : stream_(std::move(socket)), ctx_(ctx), keepalive_(stream_.get_executor()) {
  ctx_.metrics.connection_opened();
}

Connection::~Connection() {
  ctx_.metrics.connection_closed();
}

void Connection::start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

// -- reading requests --------------------------------------------------------------------------

void Connection::read_request() {
  if (closed_)
    return;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(ctx_.config.header_limit));
  parser_->body_limit(ctx_.config.body_limit);
  stream_.expires_after(ctx_.config.idle_connection_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_header(ec);
                          });
}

void Connection::on_header(beast::error_code ec) {
  if (ec)
    return on_read(ec);
  // curl and others wait for "100 Continue" before sending a large body.
  auto& req = parser_->get();
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    static const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(go_on),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->on_read(ec);
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void Connection::read_body() {
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->on_read(ec);
                   });
}

void Connection::on_read(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof
      || ec == beast::error::timeout || ec == asio::error::connection_reset
      || ec == asio::error::operation_aborted) {
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return;
  }
  if (ec == http::error::body_limit)
    return refuse(413, "body_too_large",
                  "the request body is over the limit of "
                    + std::to_string(ctx_.config.body_limit) + " bytes");
  if (ec == http::error::header_limit)
    return refuse(431, "headers_too_large",
                  "the request headers are over the limit of "
                    + std::to_string(ctx_.config.header_limit) + " bytes");
  if (ec)
    return refuse(400, "bad_request", "malformed HTTP request: " + ec.message());
  auto request = parser_->release();
  std::string why;
  auto target = parse_target(sv(request.target()), why);
  if (!target)
    return refuse(400, "invalid_target", why);
  auto ex = std::make_shared<Exchange>(shared_from_this(), std::move(request), std::move(*target));
  dispatch(ctx_, ex);
}

/// Answers a request that could not be read and closes: what follows it on the wire
/// cannot be trusted.
void Connection::refuse(unsigned status, std::string_view code, std::string message) {
  auto ex = std::make_shared<Exchange>(shared_from_this(), HttpRequest{}, Target{});
  auto r = error_response(status, code, message);
  r.headers.emplace_back("Connection", "close");
  write_response(std::move(ex), std::move(r));
}

// -- whole answers -----------------------------------------------------------------------------

void Connection::respond(std::shared_ptr<Exchange> ex, Response response) {
  ctx_.answers_pending.fetch_add(1);
  asio::post(stream_.get_executor(),
             [self = shared_from_this(), ex = std::move(ex), r = std::move(response)]() mutable {
               self->write_response(std::move(ex), std::move(r));
               self->ctx_.answers_pending.fetch_sub(1); // written, or never will be
             });
}

void Connection::add_common_headers(const Exchange* ex, Headers& headers) const {
  if (ex != nullptr && !ex->session().empty())
    headers.emplace_back("X-Session-Id", ex->session());
  if (ex != nullptr && !ex->cors_origin().empty()) {
    headers.emplace_back("Access-Control-Allow-Origin", ex->cors_origin());
    headers.emplace_back("Access-Control-Expose-Headers", "X-Session-Id, X-Call-Id");
    headers.emplace_back("Vary", "Origin");
  }
}

void Connection::write_response(std::shared_ptr<Exchange> ex, Response r) {
  if (closed_)
    return;
  ctx_.answers_pending.fetch_add(1); // until written: stop() lets it go out
  auto res = std::make_shared<http::response<http::string_body>>();
  res->version(11);
  res->result(r.status);
  res->set(http::field::server, "agentrt");
  if (!r.content_type.empty() && !r.body.empty())
    res->set(http::field::content_type, r.content_type);
  add_common_headers(ex.get(), r.headers);
  bool keep_alive = ex->request().keep_alive() && !ctx_.draining.load();
  for (auto& [name, value] : r.headers) {
    if (!header_safe(name) || !header_safe(value))
      continue;
    if (beast::iequals(name, "Connection") && value == "close")
      keep_alive = false;
    else
      res->set(name, value);
  }
  res->keep_alive(keep_alive);
  res->body() = std::move(r.body);
  res->prepare_payload();
  if (ex->request().method() == http::verb::head)
    res->body().clear();
  auto bytes = res->body().size();
  response_ = res;
  stream_.expires_after(ctx_.config.idle_connection_timeout);
  http::async_write(stream_, *res,
                    [self = shared_from_this(), ex, status = r.status, bytes,
                     keep_alive](beast::error_code ec, std::size_t) {
                      self->response_.reset();
                      self->ctx_.answers_pending.fetch_sub(1);
                      self->finish_log(*ex, status, bytes);
                      if (ec)
                        return self->on_read(asio::error::connection_reset);
                      self->after_response(keep_alive);
                    });
}

void Connection::after_response(bool keep_alive) {
  if (keep_alive)
    return read_request();
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.close();
}

void Connection::finish_log(const Exchange& ex, unsigned status, std::size_t bytes) {
  auto elapsed = std::chrono::steady_clock::now() - ex.started();
  ctx_.metrics.request_done(ex.route(), status);
  if (!ctx_.config.access_log)
    return;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  // The path only: a query may carry a token or the user's input.
  ctx_.log->info("[{}] {} {} {} {}B {}.{:03}ms", ex.session().empty() ? "-" : ex.session(),
                 sv(ex.request().method_string()), ex.target().path, status,
                 bytes, us / 1000, us % 1000);
}

// -- streams -----------------------------------------------------------------------------------

void Connection::open_stream(std::shared_ptr<Exchange> ex, Headers headers,
                             std::function<void()> on_abort) {
  // HTTP/1.0 has no chunked encoding: its body ends when the connection closes. Decided
  // here, before the first write can be framed.
  bool chunked = ex->request().version() >= 11;
  {
    std::lock_guard guard{outbox_.mu};
    outbox_.chunked = chunked;
  }
  ctx_.answers_pending.fetch_add(1); // until the stream counts as open
  asio::post(stream_.get_executor(), [self = shared_from_this(), ex = std::move(ex), chunked,
                                      h = std::move(headers), a = std::move(on_abort)]() mutable {
    struct Opened {
      ServerContext& ctx;
      ~Opened() { ctx.answers_pending.fetch_sub(1); }
    } opened{self->ctx_};
    if (self->closed_) { // the client left before the stream opened
      {
        std::lock_guard guard{self->outbox_.mu};
        self->outbox_.closed = true; // the call's events need not ring for nobody
        self->outbox_.data = {};
      }
      if (a)
        a();
      return;
    }
    self->stream_ex_ = std::move(ex);
    self->streaming_ = true;
    self->on_abort_ = std::move(a);
    self->add_common_headers(self->stream_ex_.get(), h);
    std::string head = chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                      : "HTTP/1.0 200 OK\r\n";
    head += "Server: agentrt\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "X-Accel-Buffering: no\r\nConnection: close\r\n";
    for (auto& [name, value] : h)
      if (header_safe(name) && header_safe(value))
        head += name + ": " + value + "\r\n";
    head += "\r\n";
    self->pending_bytes_ += head.size();
    self->pending_.push_back(std::move(head));
    self->ctx_.metrics.stream_opened();
    self->stream_.expires_never();
    self->watch_for_close();
    self->arm_keepalive();
    self->flush();
  });
}

void StreamSink::write(std::string_view bytes) {
  if (auto c = connection_.lock())
    c->stream_write(bytes);
}

void StreamSink::finish() {
  if (auto c = connection_.lock())
    c->stream_finish();
}

void Connection::schedule_locked() {
  if (outbox_.scheduled)
    return;
  outbox_.scheduled = true;
  ctx_.doorbell.ring(shared_from_this());
}

void Connection::take_outbox_soon() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->take_outbox(); });
}

void Connection::stream_write(std::string_view bytes) {
  if (bytes.empty())
    return;
  std::lock_guard guard{outbox_.mu};
  if (outbox_.closed || outbox_.finish)
    return;
  if (outbox_.chunked) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
    outbox_.data += size;
    outbox_.data += bytes;
    outbox_.data += "\r\n";
  } else {
    outbox_.data += bytes;
  }
  schedule_locked();
}

void Connection::stream_finish() {
  std::lock_guard guard{outbox_.mu};
  if (outbox_.closed || outbox_.finish)
    return;
  outbox_.finish = true;
  if (outbox_.chunked)
    outbox_.data += "0\r\n\r\n";
  schedule_locked();
}

/// On the strand: moves what was written into the queue of the socket's writes.
void Connection::take_outbox() {
  std::string data;
  bool finish = false;
  {
    std::lock_guard guard{outbox_.mu};
    outbox_.scheduled = false;
    data = std::move(outbox_.data);
    outbox_.data = {};
    finish = outbox_.finish;
  }
  if (!streaming_ || closed_)
    return;
  if (!data.empty()) {
    pending_bytes_ += data.size();
    pending_.push_back(std::move(data));
  }
  if (finish && !finishing_) {
    finishing_ = true;
    on_abort_ = nullptr; // the stream ended as it should: nothing to abort
  }
  if (pending_bytes_ > ctx_.config.max_stream_backlog) {
    ctx_.log->warn("[{}] a stream's client left {} bytes unread: disconnected",
                   stream_ex_->session(), pending_bytes_);
    return abort_stream();
  }
  flush();
}

void Connection::flush() {
  if (write_in_progress_ || closed_)
    return;
  if (pending_.empty()) {
    if (finishing_) { // all written: the stream is complete
      finish_log(*stream_ex_, 200, stream_bytes_);
      stream_ex_.reset(); // it holds this connection
      streaming_ = false;
      keepalive_.cancel();
      ctx_.metrics.stream_closed();
      after_response(false);
    }
    return;
  }
  writing_.clear();
  std::vector<asio::const_buffer> buffers;
  while (!pending_.empty()) {
    writing_.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  for (auto& b : writing_)
    buffers.emplace_back(asio::buffer(b));
  write_in_progress_ = true;
  wrote_since_tick_ = true;
  // A client that stops reading is dropped: every healthy stream writes at least once per
  // keep-alive interval, which re-arms this (it also bounds the close-watching read).
  stream_.expires_after(std::max<std::chrono::milliseconds>(3 * ctx_.config.keepalive,
                                                            std::chrono::seconds(30)));
  asio::async_write(stream_, buffers,
                    [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                      self->write_in_progress_ = false;
                      self->pending_bytes_ -= std::min(self->pending_bytes_, n);
                      self->stream_bytes_ += n;
                      if (ec)
                        return self->abort_stream();
                      self->flush();
                    });
}

/// While a stream is open the client sends nothing; a read that ends means it went away.
void Connection::watch_for_close() {
  stream_.async_read_some(asio::buffer(probe_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (!self->streaming_)
                              return;
                            if (ec)
                              return self->abort_stream();
                            self->watch_for_close(); // stray bytes: ignored
                          });
}

void Connection::arm_keepalive() {
  keepalive_.expires_after(ctx_.config.keepalive);
  keepalive_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || !self->streaming_ || self->finishing_ || self->closed_)
      return;
    if (!self->wrote_since_tick_) {
      self->stream_write(": keepalive\n\n");
    }
    self->wrote_since_tick_ = false;
    self->arm_keepalive();
  });
}

void Connection::abort_stream() {
  {
    std::lock_guard guard{outbox_.mu};
    outbox_.closed = true;
    outbox_.data = {};
  }
  bool was_streaming = streaming_;
  auto abort = std::exchange(on_abort_, nullptr);
  if (was_streaming) {
    streaming_ = false;
    keepalive_.cancel();
    ctx_.metrics.stream_closed();
    finish_log(*stream_ex_, 200, stream_bytes_);
  }
  stream_ex_.reset(); // it holds this connection
  closed_ = true;
  pending_.clear();
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
  if (abort)
    abort();
}

// -- Exchange ----------------------------------------------------------------------------------

void Exchange::session(std::string id) {
  if (session_id_like(id))
    session_ = std::move(id);
}

std::string_view Exchange::header(std::string_view name) const {
  auto i = request_.find(beast::string_view{name.data(), name.size()});
  return i == request_.end() ? std::string_view{} : sv(i->value());
}

void Exchange::respond(Response response) {
  connection_->respond(shared_from_this(), std::move(response));
}

StreamSink Exchange::open_stream(Headers headers, std::function<void()> on_abort) {
  connection_->open_stream(shared_from_this(), std::move(headers), std::move(on_abort));
  return StreamSink{connection_};
}

} // namespace agentrt::server::detail
