// agentrt-sse-ceiling: the least a server can do to answer the load client: Boost.Beast on
// an io_context, each stream's events written from Asio timers, nothing behind them. It
// writes the stream agentrt-server writes for its `assistant` on a mock model of `--tokens`
// tokens `--interval-ms` apart: `retry: 2000`, then started, phase "generating", one chunk
// event per token (the mock model's words), completed with the whole answer, in the SSE
// format of agentrt-server (id: <call>:<seq>, event:, data: {session_id, call_id, seq, agent,
// data[, turn]}), then closes the connection. Its figures are what the machine allows.
//
//   agentrt-sse-ceiling [--port 0] [--threads 2] [--tokens 20] [--interval-ms 100]
//
// Routes: POST /v1/agents/assistant/stream (JSON body {"input", "session_id"?}), GET with the
// same as query parameters, GET /health. The first stdout line is
// "listening on http://127.0.0.1:PORT". SIGINT/SIGTERM stop it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

struct Options {
  unsigned short port = 0;
  int threads = 2;
  int tokens = 20;
  int interval_ms = 100;
};

std::atomic<unsigned long> minted{0};

/// The value of `name` in the query string `q`, %-decoded ("" when absent).
std::string query_param(std::string_view q, std::string_view name) {
  for (std::string_view rest = q; !rest.empty();) {
    auto pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    if (pair.substr(0, pair.find('=')) != name || pair.size() <= name.size())
      continue;
    std::string out;
    for (std::size_t i = name.size() + 1; i < pair.size(); ++i) {
      if (pair[i] == '%' && i + 2 < pair.size()) {
        out +=
            static_cast<char>(std::strtol(std::string{pair.substr(i + 1, 2)}.c_str(), nullptr, 16));
        i += 2;
      } else {
        out += pair[i] == '+' ? ' ' : pair[i];
      }
    }
    return out;
  }
  return "";
}

/// The mock model's tokens for `input`: words of "Mock answer to: <input>", padded or cut.
std::vector<std::string> answer_tokens(const std::string& input, int n) {
  std::istringstream words{"Mock answer to: " + input};
  std::vector<std::string> out;
  for (std::string w; static_cast<int>(out.size()) < n && words >> w;)
    out.push_back(out.empty() ? w : " " + w);
  while (static_cast<int>(out.size()) < n)
    out.push_back(" w" + std::to_string(out.size() + 1));
  return out;
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
    auto target = std::string_view{request_.target().data(), request_.target().size()};
    auto path = target.substr(0, target.find('?'));
    auto query = path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view{};
    if (path == "/health")
      return send(http::status::ok, {{"status", "ok"}});
    if (path != "/v1/agents/assistant/stream")
      return send(http::status::not_found, {{"error", {{"code", "not_found"}}}});
    std::string input;
    if (request_.method() == http::verb::post) {
      auto body = json::parse(request_.body(), nullptr, false);
      if (!body.is_object() || !body.contains("input") || !body["input"].is_string())
        return send(http::status::bad_request, {{"error", {{"code", "invalid_request"}}}});
      input = body["input"].get<std::string>();
      if (auto s = body.find("session_id"); s != body.end() && s->is_string())
        session_ = s->get<std::string>();
    } else {
      input = query_param(query, "input");
      session_ = query_param(query, "session_id");
    }
    if (session_.empty())
      session_ = "ceiling-" + std::to_string(++minted);
    tokens_ = answer_tokens(input, options_.tokens);
    start_stream();
  }

  void send(http::status status, const json& body) {
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::content_type, "application/json");
    res->keep_alive(request_.keep_alive());
    res->body() = body.dump();
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (!ec && res->keep_alive())
                          self->read();
                      });
  }

  std::string event(const char* kind, const std::string& data) {
    json j{{"session_id", session_},
           {"call_id", 1},
           {"seq", ++seq_},
           {"agent", "assistant"},
           {"data", data}};
    if (std::string_view{kind} == "completed")
      j["turn"] = 1;
    return "id: 1:" + std::to_string(seq_) + "\nevent: " + kind
           + "\ndata: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
  }

  void start_stream() {
    header_ =
        std::make_unique<http::response<http::empty_body>>(http::status::ok, request_.version());
    header_->set(http::field::content_type, "text/event-stream");
    header_->set(http::field::cache_control, "no-cache");
    header_->set("X-Session-Id", session_);
    header_->keep_alive(false); // the stream ends with the connection
    header_->chunked(true);
    serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*header_);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec)
                                 return;
                               std::string text = "retry: 2000\n\n";
                               text += self->event("started", "");
                               text += self->event("phase", "generating");
                               self->write_chunk(std::move(text));
                             });
  }

  void write_chunk(std::string text) {
    out_ = std::move(text);
    net::async_write(stream_, http::make_chunk(net::buffer(out_)),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec)
                         self->next();
                     });
  }

  void next() {
    if (next_ == tokens_.size())
      return finish();
    timer_.expires_after(std::chrono::milliseconds(options_.interval_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return;
      auto text = self->event("chunk", self->tokens_[self->next_]);
      self->answer_ += self->tokens_[self->next_];
      if (++self->next_ == self->tokens_.size())
        text += self->event("completed", self->answer_);
      self->write_chunk(std::move(text));
    });
  }

  void finish() {
    net::async_write(stream_, http::make_chunk_last(),
                     [self = shared_from_this()](beast::error_code, std::size_t) {
                       beast::error_code ignored;
                       self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                       self->stream_.close();
                     });
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  const Options& options_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::unique_ptr<http::response<http::empty_body>> header_;
  std::unique_ptr<http::response_serializer<http::empty_body>> serializer_;
  std::string session_;
  std::vector<std::string> tokens_;
  std::size_t next_ = 0;
  std::uint64_t seq_ = 0;
  std::string answer_;
  std::string out_;
};

void accept(net::io_context& io, tcp::acceptor& acceptor, const Options& o) {
  acceptor.async_accept(net::make_strand(io), [&io, &acceptor, &o](beast::error_code ec,
                                                                   tcp::socket socket) {
    if (ec == net::error::operation_aborted)
      return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec); // small events go out at once
      std::make_shared<Connection>(std::move(socket), o)->read();
      return accept(io, acceptor, o);
    }
    // Out of file descriptors, say: try again shortly instead of spinning.
    auto pause = std::make_shared<net::steady_timer>(io, std::chrono::milliseconds(50));
    pause->async_wait([&io, &acceptor, &o, pause](beast::error_code) { accept(io, acceptor, o); });
  });
}

[[noreturn]] void usage(int code) {
  std::fprintf(
      code ? stderr : stdout,
      "usage: agentrt-sse-ceiling [--port N] [--threads N] [--tokens N] [--interval-ms N]\n");
  std::exit(code);
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h")
      usage(0);
    if (i + 1 >= argc)
      usage(2);
    char* end = nullptr;
    long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < 0 || v > 3'600'000)
      usage(2);
    if (a == "--port" && v <= 65535)
      o.port = static_cast<unsigned short>(v);
    else if (a == "--threads" && v >= 1 && v <= 64)
      o.threads = static_cast<int>(v);
    else if (a == "--tokens" && v >= 1)
      o.tokens = static_cast<int>(v);
    else if (a == "--interval-ms")
      o.interval_ms = static_cast<int>(v);
    else
      usage(2);
  }
  net::io_context io{o.threads};
  tcp::acceptor acceptor{io, {net::ip::make_address("127.0.0.1"), o.port}};
  acceptor.listen(net::socket_base::max_listen_connections);
  std::printf("listening on http://127.0.0.1:%u\n",
              static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  net::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](beast::error_code, int) { io.stop(); });
  accept(io, acceptor, o);
  std::vector<std::thread> threads;
  for (int i = 1; i < o.threads; ++i)
    threads.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : threads)
    t.join();
  return 0;
}
