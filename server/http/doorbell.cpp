#include "http/doorbell.hpp"

#include "http/connection.hpp"

#include <boost/asio/post.hpp>

namespace agentrt::server::detail {

void Doorbell::ring(std::shared_ptr<Connection> c) {
  {
    std::lock_guard guard{mu_};
    ready_.push_back(std::move(c));
    if (posted_)
      return;
    posted_ = true;
  }
  // The wake-up (a futex or eventfd call) outside the lock every ringer takes.
  boost::asio::post(io_, [this] { answer(); });
}

void Doorbell::answer() {
  std::vector<std::shared_ptr<Connection>> taken;
  {
    std::lock_guard guard{mu_};
    taken.swap(ready_);
    posted_ = false;
  }
  // On an I/O thread: each connection's take runs here (or queues behind its strand's
  // current work), with no wake-up of another thread.
  for (auto& c : taken)
    c->take_outbox_soon();
}

void Doorbell::clear() {
  std::vector<std::shared_ptr<Connection>> dropped;
  std::lock_guard guard{mu_};
  dropped.swap(ready_);
}

} // namespace agentrt::server::detail
