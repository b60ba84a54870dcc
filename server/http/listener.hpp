#pragma once

// Listener: accepts connections and starts each on its own strand.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <memory>

namespace agentrt::server::detail {

struct ServerContext;

class Listener : public std::enable_shared_from_this<Listener> {
public:
  /// Binds and listens; throws std::system_error naming the address when it cannot.
  Listener(ServerContext& ctx, const boost::asio::ip::tcp::endpoint& at);
  void start();
  void stop();
  unsigned short port() const;

private:
  void accept();

  ServerContext& ctx_;
  /// The acceptor's own strand: accepting and stopping never run at once.
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
};

} // namespace agentrt::server::detail
