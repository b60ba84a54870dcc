#pragma once

// Doorbell: how other threads tell connections that their streams have bytes to write.
// Each ring adds the connection to one list; the first ring of a batch posts one task to
// the io_context, which hands every listed connection to its strand. Posting per event
// would wake an I/O thread per event (a futex or eventfd call each, and most of the
// server's CPU at thousands of streams); here a burst of events costs one wake.

#include <boost/asio/io_context.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace agentrt::server::detail {

class Connection;

class Doorbell {
public:
  explicit Doorbell(boost::asio::io_context& io) : io_(io) {}

  /// `c` has bytes in its outbox; from any thread.
  void ring(std::shared_ptr<Connection> c);
  /// Drops what is listed (server stop, after the I/O threads are joined).
  void clear();

private:
  void answer();

  boost::asio::io_context& io_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Connection>> ready_; // guarded by mu_
  bool posted_ = false;                            // guarded by mu_
};

} // namespace agentrt::server::detail
