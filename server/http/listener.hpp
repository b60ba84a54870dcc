#pragma once

// Listener: accepts connections and starts each on its own strand.

#include <boost/asio/ip/tcp.hpp>

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
  boost::asio::ip::tcp::acceptor acceptor_;
};

} // namespace agentrt::server::detail
