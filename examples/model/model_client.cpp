#include "model/model_client.hpp"

#include "model/endpoint.hpp"
#include "model/sse.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace model {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

std::string request_body(const ModelOptions& o, const std::vector<ChatMessage>& messages,
                         std::optional<int> max_tokens) {
  nlohmann::json j{{"model", o.model}, {"stream", true}, {"messages", nlohmann::json::array()}};
  for (auto& m : messages)
    j["messages"].push_back({{"role", m.role}, {"content", m.content}});
  if (max_tokens)
    j["max_tokens"] = *max_tokens;
  return j.dump();
}

/// One request: connect, send, read the event stream, end once. Lives on the I/O thread
/// (its handlers hold it); `end` closes the socket, so pending operations finish at once.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
  Exchange(net::io_context& io, const ModelOptions& o, const Endpoint& ep, std::string body,
           std::shared_ptr<StreamSink> sink)
    : options_(o), endpoint_(ep), resolver_(io), stream_(io), sink_(std::move(sink)) {
    request_ = {http::verb::post, ep.base_path + "/chat/completions", 11};
    request_.set(http::field::host, ep.host + ":" + ep.port);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    if (!o.api_key.empty())
      request_.set(http::field::authorization, "Bearer " + o.api_key);
    request_.body() = std::move(body);
    request_.prepare_payload();
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  }

  /// An exchange dropped without an end (a handler threw; the client is going away) still
  /// tells its sink.
  ~Exchange() {
    if (!ended_)
      sink_->on_end("the model request ended unexpectedly");
  }

  void run() {
    stream_.expires_after(options_.connect_timeout);
    // An address needs no resolver (whose every lookup is a hop to its own thread).
    beast::error_code bad;
    auto address = net::ip::make_address(endpoint_.host, bad);
    if (!bad) {
      tcp::endpoint at{address, static_cast<unsigned short>(std::stoul(endpoint_.port))};
      stream_.async_connect(at, [self = shared_from_this()](beast::error_code e) {
        self->on_connect(e);
      });
      return;
    }
    resolver_.async_resolve(endpoint_.host, endpoint_.port,
                            [self = shared_from_this()](beast::error_code ec, auto results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  /// Ends the request with `why` (on the I/O thread).
  void end(std::optional<std::string> why) {
    if (ended_)
      return;
    ended_ = true;
    beast::error_code ignored;
    resolver_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    sink_->on_end(std::move(why));
  }

private:
  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (fail(ec, "resolving " + endpoint_.host))
      return;
    stream_.async_connect(results, [self = shared_from_this()](beast::error_code e, auto) {
      self->on_connect(e);
    });
  }

  void on_connect(beast::error_code ec) {
    if (fail(ec, "connecting to " + endpoint_.host + ":" + endpoint_.port))
      return;
    stream_.expires_after(options_.idle_timeout);
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code e, std::size_t) {
      self->on_write(e);
    });
  }

  void on_write(beast::error_code ec) {
    if (fail(ec, "sending the request"))
      return;
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code e, std::size_t) {
                              self->on_header(e);
                            });
  }

  void on_header(beast::error_code ec) {
    if (fail(ec, "reading the response"))
      return;
    status_ = parser_.get().result_int();
    auto type = parser_.get()[http::field::content_type];
    // A server that ignored "stream": true answers with one JSON completion.
    whole_json_ = status_ == 200 && type.starts_with("application/json");
    if (parser_.is_done()) // no body (Content-Length: 0, 204...)
      return finish();
    read_more();
  }

  void read_more() {
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof chunk_;
    stream_.expires_after(options_.idle_timeout);
    // read_some: hand each piece on as it arrives (async_read would wait for a full buffer).
    http::async_read_some(stream_, buffer_, parser_,
                          [self = shared_from_this()](beast::error_code e, std::size_t) {
                            self->on_read(e);
                          });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::need_buffer)
      ec = {};
    if (ended_)
      return;
    std::string_view got{chunk_, sizeof chunk_ - parser_.get().body().size};
    if (status_ != 200) {
      body_.append(got.substr(0, 4096 - std::min<std::size_t>(4096, body_.size())));
    } else if (whole_json_) {
      if (body_.size() + got.size() > max_json_body)
        return end("the model server's answer is over " + std::to_string(max_json_body) + " bytes");
      body_.append(got);
    } else if (take(sse_.feed(got))) {
      return; // ended on [DONE] or an error chunk
    }
    if (fail(ec, "reading the stream"))
      return;
    if (!parser_.is_done())
      return read_more();
    finish();
  }

  /// The body is complete: report what it said.
  void finish() {
    if (status_ != 200)
      return end("the model server answered HTTP " + std::to_string(status_) + ": " + body_);
    if (whole_json_) {
      auto c = read_completion(body_);
      if (c.error)
        return end(c.error);
      if (!c.content.empty())
        sink_->on_text(std::move(c.content));
      return end(std::nullopt);
    }
    if (auto last = sse_.end(); last && take({*last}))
      return;
    end(std::nullopt); // the body ended after its last chunk, without [DONE]
  }

  /// Passes the text of these events on; true if the request ended.
  bool take(const std::vector<std::string>& payloads) {
    for (auto& payload : payloads) {
      auto c = read_chunk(payload);
      if (c.error) {
        end(c.error);
        return true;
      }
      if (c.done) {
        end(std::nullopt);
        return true;
      }
      if (!c.content.empty())
        sink_->on_text(std::move(c.content));
    }
    return false;
  }

  /// Ends the request if `ec` is an error; true if it did (or it had ended already).
  bool fail(beast::error_code ec, const std::string& doing) {
    if (ended_)
      return true;
    if (!ec)
      return false;
    if (ec == beast::error::timeout)
      end("the model server did not answer in time while " + doing);
    else
      end("the model request failed while " + doing + ": " + ec.message());
    return true;
  }

  const ModelOptions& options_;
  const Endpoint& endpoint_;
  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::shared_ptr<StreamSink> sink_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  char chunk_[4096];
  SseReader sse_;
  unsigned status_ = 0;
  bool whole_json_ = false;
  std::string body_; // an error answer (its first 4 KB), or a non-streamed completion
  bool ended_ = false;

  static constexpr std::size_t max_json_body = 16 << 20;
};

} // namespace

std::optional<ModelOptions> ModelOptions::from_env() {
  auto get = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  ModelOptions o;
  o.url = get("AGENTRT_LLM_URL");
  if (o.url.empty())
    return std::nullopt;
  if (auto m = get("AGENTRT_LLM_MODEL"); !m.empty())
    o.model = m;
  o.api_key = get("AGENTRT_LLM_API_KEY");
  return o;
}

struct ModelClient::Impl {
  ModelOptions options;
  Endpoint endpoint;
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> guard{io.get_executor()};
  // Cancel functions may outlive the client: they check `stopped` under `mu` before
  // touching the I/O context.
  struct Gate {
    std::mutex mu;
    bool stopped = false;
  };
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::vector<std::weak_ptr<Exchange>> live; // only on the I/O thread
  std::size_t prune_at = 64;                  // only on the I/O thread
  std::thread thread;
};

ModelClient::ModelClient(ModelOptions options) : impl_(std::make_unique<Impl>()) {
  std::string error;
  auto ep = parse_endpoint(options.url, error);
  if (!ep)
    throw std::invalid_argument(error);
  impl_->options = std::move(options);
  impl_->endpoint = std::move(*ep);
  impl_->thread = std::thread{[impl = impl_.get()] {
    // A handler that throws drops its exchange (whose sink hears of it); the thread goes on
    // serving the others.
    for (;;) {
      try {
        impl->io.run();
        return;
      } catch (...) {
      }
    }
  }};
}

ModelClient::~ModelClient() {
  {
    std::lock_guard l{impl_->gate->mu};
    impl_->gate->stopped = true;
  }
  net::post(impl_->io, [impl = impl_.get()] {
    for (auto& w : impl->live)
      if (auto ex = w.lock())
        ex->end("the model client stopped");
    impl->live.clear();
  });
  impl_->guard.reset();
  impl_->thread.join();
}

std::function<void()> ModelClient::start(std::vector<ChatMessage> messages,
                                         std::shared_ptr<StreamSink> sink,
                                         std::optional<int> max_tokens) {
  auto ex = std::make_shared<Exchange>(impl_->io, impl_->options, impl_->endpoint,
                                       request_body(impl_->options, messages, max_tokens),
                                       std::move(sink));
  {
    std::lock_guard l{impl_->gate->mu};
    if (impl_->gate->stopped)
      throw std::logic_error("ModelClient::start after the client began to stop");
    net::post(impl_->io, [impl = impl_.get(), ex] {
      // Ended exchanges are swept when the list has doubled: a sweep per request would
      // cost O(n) each with n requests in flight.
      if (impl->live.size() >= impl->prune_at) {
        std::erase_if(impl->live, [](auto& w) { return w.expired(); });
        impl->prune_at = std::max<std::size_t>(64, 2 * impl->live.size());
      }
      impl->live.push_back(ex);
      ex->run();
    });
  }
  std::weak_ptr<Exchange> weak = ex;
  return [gate = impl_->gate, io = &impl_->io, weak] {
    std::lock_guard l{gate->mu};
    if (gate->stopped)
      return;
    net::post(*io, [weak] {
      if (auto e = weak.lock())
        e->end("cancelled");
    });
  };
}

const ModelOptions& ModelClient::options() const noexcept {
  return impl_->options;
}

} // namespace model
