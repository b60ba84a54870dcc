#include <agentrt/server/http_server.hpp>

#include "api/routes.hpp"
#include "http/listener.hpp"
#include "server_context.hpp"
#include "shared/wire.hpp"

#include <agentrt/runtime.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace agentrt::server {

namespace asio = boost::asio;
using detail::ServerContext;

namespace detail {

namespace {


ServerConfig checked(ServerConfig c) {
  if (c.io_threads == 0 || c.admin_threads == 0)
    throw std::invalid_argument("ServerConfig: io_threads and admin_threads must be positive");
  if (c.body_limit == 0 || c.header_limit == 0 || c.max_stream_backlog == 0)
    throw std::invalid_argument("ServerConfig: limits must be positive");
  if (c.keepalive.count() <= 0 || c.sse_retry.count() <= 0
      || c.idle_connection_timeout.count() <= 0 || c.resume_grace.count() < 0)
    throw std::invalid_argument("ServerConfig: keepalive, sse_retry and "
                                "idle_connection_timeout must be positive, resume_grace not "
                                "negative");
  return c;
}

} // namespace

ServerContext::ServerContext(Runtime& rt, ServerConfig cfg)
  : runtime(rt), config(checked(std::move(cfg))), log(logger_or_null(config.logger, "agentrt-server")),
    admin(config.admin_threads), calls(io, gate, metrics, config.resume_grace) {
  // nop
}

void ServerContext::park(const ExchangePtr& ex) {
  std::lock_guard guard{parked_mu};
  parked.emplace(ex.get(), ex);
}

void ServerContext::unpark(const Exchange* ex) {
  ExchangePtr last; // released outside the lock
  std::lock_guard guard{parked_mu};
  if (auto i = parked.find(ex); i != parked.end()) {
    last = std::move(i->second);
    parked.erase(i);
  }
}

} // namespace detail

struct HttpServer::Impl {
  Impl(Runtime& rt, ServerConfig cfg) : ctx(rt, std::move(cfg)) {}
  ServerContext ctx;
  std::shared_ptr<detail::Listener> listener;
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::mutex stop_mu;
  bool stopped = false; // guarded by stop_mu
};

HttpServer::HttpServer(Runtime& runtime, ServerConfig config)
  : impl_(std::make_unique<Impl>(runtime, std::move(config))) {
  detail::add_ops_routes(impl_->ctx);
  detail::add_call_routes(impl_->ctx);
  detail::add_session_routes(impl_->ctx);
}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds{0});
}

void HttpServer::start() {
  auto& ctx = impl_->ctx;
  auto address = asio::ip::make_address(ctx.config.bind_address);
  impl_->listener = std::make_shared<detail::Listener>(
    ctx, asio::ip::tcp::endpoint{address, ctx.config.port});
  impl_->listener->start();
  impl_->work.emplace(ctx.io.get_executor());
  for (std::size_t i = 0; i < ctx.config.io_threads; ++i)
    impl_->threads.emplace_back([&ctx] { ctx.io.run(); });
  ctx.log->info("listening on http://{}:{} ({} I/O threads)", ctx.config.bind_address, port(),
                ctx.config.io_threads);
}

std::uint16_t HttpServer::port() const noexcept {
  return impl_->listener ? impl_->listener->port() : 0;
}

std::size_t HttpServer::drain(std::chrono::milliseconds wait) {
  auto& ctx = impl_->ctx;
  if (!ctx.draining.exchange(true))
    ctx.log->info("draining: /ready answers 503, new calls are refused");
  return ctx.calls.wait_empty(wait);
}

void HttpServer::stop(std::chrono::milliseconds flush) {
  std::lock_guard guard{impl_->stop_mu};
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  auto& ctx = impl_->ctx;
  ctx.draining = true;
  if (impl_->listener)
    impl_->listener->stop();
  // Answers and streams that have their last words are written out before the sockets
  // close: replies of calls the runtime just ended, streams' last events.
  auto until = std::chrono::steady_clock::now() + flush;
  auto busy = [&ctx] {
    std::lock_guard g{ctx.parked_mu};
    return ctx.metrics.open_streams() > 0 || ctx.answers_pending.load() > 0
           || !ctx.parked.empty();
  };
  while (busy() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  ctx.gate->close(); // from here on no Runtime callback reaches the server
  impl_->work.reset();
  ctx.io.stop();
  for (auto& t : impl_->threads)
    t.join();
  ctx.admin.join();
  {
    std::lock_guard g{ctx.parked_mu};
    ctx.parked.clear();
  }
  ctx.doorbell.clear();
  impl_->listener.reset();
  // Connections still referenced by handlers the io_context holds go with it.
}

std::string HttpServer::metrics_text() const {
  return impl_->ctx.metrics.render(impl_->ctx.runtime.stats(), impl_->ctx.draining.load());
}

} // namespace agentrt::server
