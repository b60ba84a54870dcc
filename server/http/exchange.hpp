#pragma once

// Exchange: one HTTP request in flight, as a route handler sees it. The handler answers it
// exactly once, from any thread: respond() with a whole response, or open_stream() to
// write an event stream. Everything reaches the socket on the connection's strand.

#include "http/query.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentrt::server::detail {

class Connection;

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

/// A whole answer.
struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

/// The write side of an open stream. Writes are queued in order; once the client is gone
/// they are dropped (and the abort callback given to open_stream has run). It does not keep
/// the connection alive (an open stream's own reads and writes do), so a Runtime callback
/// may hold it; use it inside the server's Gate.
class StreamSink {
public:
  explicit StreamSink(std::weak_ptr<Connection> connection) noexcept
    : connection_(std::move(connection)) {}
  /// Queues `bytes` as one chunk of the response body.
  void write(std::string_view bytes);
  /// Ends the body; the connection closes once it is flushed.
  void finish();

private:
  std::weak_ptr<Connection> connection_;
};

class Exchange : public std::enable_shared_from_this<Exchange> {
public:
  Exchange(std::shared_ptr<Connection> connection, HttpRequest request, Target target)
    : connection_(std::move(connection)), request_(std::move(request)),
      target_(std::move(target)) {}

  const HttpRequest& request() const noexcept { return request_; }
  HttpRequest& request() noexcept { return request_; }
  const Target& target() const noexcept { return target_; }
  /// The path's `{...}` segments, decoded, in order (set by the router).
  const std::vector<std::string>& params() const noexcept { return params_; }
  void params(std::vector<std::string> p) { params_ = std::move(p); }
  /// The route's name for logs and metrics, e.g. "/v1/agents/{agent}/invoke".
  std::string_view route() const noexcept { return route_; }
  void route(std::string_view r) noexcept { route_ = r; }
  /// A header's value, or empty.
  std::string_view header(std::string_view name) const;

  /// Tags the answer (X-Session-Id), the access log line and the metrics with the session
  /// it is about. An id that is not 1-128 characters of [A-Za-z0-9._:-] is not a session
  /// id (the runtime refuses it) and is dropped: it came from the client and must never
  /// reach a header or a log line as it is.
  void session(std::string id);
  const std::string& session() const noexcept { return session_; }
  /// The request's Origin when it is allowed cross-origin: the answer carries CORS headers.
  void cors_origin(std::string origin) { cors_origin_ = std::move(origin); }
  const std::string& cors_origin() const noexcept { return cors_origin_; }
  std::chrono::steady_clock::time_point started() const noexcept { return started_; }

  void respond(Response response);
  /// Writes a 200 `text/event-stream` header with `headers` and returns the body's sink.
  /// `on_abort` runs once, on the connection's strand, if the client goes away (or is too
  /// slow) before finish().
  StreamSink open_stream(Headers headers, std::function<void()> on_abort);

private:
  std::shared_ptr<Connection> connection_;
  HttpRequest request_;
  Target target_;
  std::vector<std::string> params_;
  std::string_view route_ = "unmatched";
  std::string session_;
  std::string cors_origin_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

using ExchangePtr = std::shared_ptr<Exchange>;

} // namespace agentrt::server::detail
