// agentrt-mock-llm: a stand-in for an OpenAI-compatible model server, for tests, the
// benchmark and the demo. It answers `POST .../chat/completions` with a fixed number of
// tokens at a fixed interval (timers on one I/O thread: any number of streams at once).
//
//   agentrt-mock-llm [--host 127.0.0.1] [--port 0] [--tokens 20] [--interval-ms 100]
//
// --port 0 picks a free port. The first line on stdout is "listening on http://HOST:PORT/v1".
// The answer to a conversation is "Mock answer to: <last user message>", one word per
// token, padded with " w7", " w8", ... or cut to the token count (`max_tokens` in the
// request lowers it). `"stream": true` sends server-sent events, chunked, ending with
// `data: [DONE]`; otherwise one JSON completion. The model "fail-500" gets an HTTP 500
// (for testing clients' error paths); the model "no-stream" answers one JSON completion even
// when asked to stream. GET /health answers {"status":"ok"}.
// SIGINT/SIGTERM stop it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int tokens = 20;
  int interval_ms = 100;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: agentrt-mock-llm [--host ADDR] [--port N] [--tokens N] [--interval-ms N]\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](long lo, long hi) {
      if (i + 1 >= argc)
        usage(2);
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < lo || v > hi)
        usage(2);
      return v;
    };
    if (a == "--host" && i + 1 < argc)
      o.host = argv[++i];
    else if (a == "--port")
      o.port = static_cast<unsigned short>(number(0, 65535));
    else if (a == "--tokens")
      o.tokens = static_cast<int>(number(1, 1'000'000));
    else if (a == "--interval-ms")
      o.interval_ms = static_cast<int>(number(0, 3'600'000));
    else if (a == "--help" || a == "-h")
      usage(0);
    else
      usage(2);
  }
  return o;
}

/// The answer's tokens: words of "Mock answer to: <input>", padded or cut to `n`.
std::vector<std::string> answer_tokens(const std::string& input, int n) {
  std::istringstream words{"Mock answer to: " + input};
  std::vector<std::string> out;
  for (std::string w; static_cast<int>(out.size()) < n && words >> w;)
    out.push_back(out.empty() ? w : " " + w);
  while (static_cast<int>(out.size()) < n)
    out.push_back(" w" + std::to_string(out.size() + 1));
  return out;
}

std::string last_user_message(const json& body) {
  std::string last;
  if (auto m = body.find("messages"); m != body.end() && m->is_array())
    for (auto& msg : *m)
      if (msg.is_object() && msg.value("role", "") == "user" && msg.contains("content")
          && msg["content"].is_string())
        last = msg["content"].get<std::string>();
  return last;
}

json error_body(const std::string& message) {
  return {{"error", {{"message", message}, {"type", "invalid_request_error"}}}};
}

class Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(tcp::socket socket, const Options& o)
    : stream_(std::move(socket)), timer_(stream_.get_executor()), options_(o) {
    // nop
  }

  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec)
                         self->route();
                     });
  }

private:
  void route() {
    auto target = std::string{request_.target()};
    if (request_.method() == http::verb::get && target == "/health")
      return send(http::status::ok, {{"status", "ok"}});
    const std::string suffix = "/chat/completions";
    bool completions = target.size() >= suffix.size()
                       && target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (!completions)
      return send(http::status::not_found, error_body("no route " + target));
    if (request_.method() != http::verb::post)
      return send(http::status::method_not_allowed, error_body("use POST"));
    auto body = json::parse(request_.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return send(http::status::bad_request, error_body("the body is not a JSON object"));
    if (body.value("model", "") == "fail-500")
      return send(http::status::internal_server_error, error_body("the mock model failed as asked"));
    int n = options_.tokens;
    if (auto m = body.find("max_tokens"); m != body.end() && m->is_number_integer())
      n = std::max(1, std::min(n, m->get<int>()));
    tokens_ = answer_tokens(last_user_message(body), n);
    next_ = 0;
    // The model "no-stream" stands for a server that ignores "stream": true.
    if (body.value("stream", false) && body.value("model", "") != "no-stream")
      return start_stream();
    std::string all;
    for (auto& t : tokens_)
      all += t;
    send(http::status::ok,
         {{"object", "chat.completion"},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", all}}},
                                    {"finish_reason", "stop"}}})}});
  }

  void send(http::status status, const json& j) {
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::content_type, "application/json");
    res->keep_alive(request_.keep_alive());
    res->body() = j.dump();
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (!ec && res->keep_alive())
        self->read();
    });
  }

  void start_stream() {
    header_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, request_.version());
    header_->set(http::field::content_type, "text/event-stream");
    header_->set(http::field::cache_control, "no-cache");
    header_->keep_alive(request_.keep_alive());
    header_->chunked(true);
    serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*header_);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (!ec)
                                 self->wait();
                             });
  }

  void wait() {
    timer_.expires_after(std::chrono::milliseconds(options_.interval_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->send_token();
    });
  }

  void send_token() {
    json chunk{{"object", "chat.completion.chunk"},
               {"choices", json::array({{{"index", 0},
                                         {"delta", {{"content", tokens_[next_]}}},
                                         {"finish_reason", nullptr}}})}};
    out_ = "data: " + chunk.dump() + "\n\n";
    bool last = ++next_ == tokens_.size();
    if (last)
      out_ += "data: [DONE]\n\n";
    net::async_write(stream_, http::make_chunk(net::buffer(out_)),
                     [self = shared_from_this(), last](beast::error_code ec, std::size_t) {
                       if (ec)
                         return; // the client went away
                       if (last)
                         self->finish();
                       else
                         self->wait();
                     });
  }

  void finish() {
    net::async_write(stream_, http::make_chunk_last(),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec && self->header_->keep_alive())
                         self->read();
                     });
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  const Options& options_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::unique_ptr<http::response<http::empty_body>> header_;
  std::unique_ptr<http::response_serializer<http::empty_body>> serializer_;
  std::vector<std::string> tokens_;
  std::size_t next_ = 0;
  std::string out_;
};

void accept(tcp::acceptor& acceptor, const Options& o) {
  acceptor.async_accept([&acceptor, &o](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted)
      return;
    if (!ec) {
      std::make_shared<Connection>(std::move(socket), o)->read();
      return accept(acceptor, o);
    }
    // Out of file descriptors, say: try again shortly instead of spinning.
    auto pause = std::make_shared<net::steady_timer>(acceptor.get_executor(),
                                                     std::chrono::milliseconds(50));
    pause->async_wait([&acceptor, &o, pause](beast::error_code) { accept(acceptor, o); });
  });
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  try {
    tcp::endpoint at{net::ip::make_address(o.host), o.port};
    acceptor.open(at.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen(net::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentrt-mock-llm: cannot listen on %s:%u: %s\n", o.host.c_str(),
                 static_cast<unsigned>(o.port), e.what());
    return 1;
  }
  std::printf("listening on http://%s:%u/v1\n", o.host.c_str(),
              static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  net::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](beast::error_code, int) { io.stop(); });
  accept(acceptor, o);
  io.run();
  return 0;
}
