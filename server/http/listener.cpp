#include "http/listener.hpp"

#include "http/connection.hpp"
#include "server_context.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <system_error>

namespace agentrt::server::detail {

namespace asio = boost::asio;

Listener::Listener(ServerContext& ctx, const asio::ip::tcp::endpoint& at)
  : ctx_(ctx), strand_(asio::make_strand(ctx.io)), acceptor_(strand_), backoff_(strand_) {
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    throw std::system_error(ec, std::string{"cannot "} + what + " " + at.address().to_string()
                                  + ":" + std::to_string(at.port()));
  };
  if (acceptor_.open(at.protocol(), ec); ec)
    fail("open a socket for");
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec)
    fail("set SO_REUSEADDR for");
  if (acceptor_.bind(at, ec); ec)
    fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec)
    fail("listen on");
}

unsigned short Listener::port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Listener::start() {
  asio::post(strand_, [self = shared_from_this()] { self->accept(); });
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->backoff_.cancel();
  });
}

void Listener::accept() {
  acceptor_.async_accept(asio::make_strand(ctx_.io), [self = shared_from_this()](
                                                       boost::system::error_code ec,
                                                       asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open())
      return;
    if (ec) {
      // Out of descriptors, typically: say so, and try again in a moment rather than spin.
      self->ctx_.log->warn("accept failed: {}; retrying in 100 ms", ec.message());
      self->backoff_.expires_after(std::chrono::milliseconds{100});
      self->backoff_.async_wait([self](boost::system::error_code e) {
        if (!e && self->acceptor_.is_open())
          self->accept();
      });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    std::make_shared<Connection>(std::move(socket), self->ctx_)->start();
    self->accept();
  });
}

} // namespace agentrt::server::detail
