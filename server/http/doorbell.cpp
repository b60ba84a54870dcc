#include "http/doorbell.hpp"

#include "http/connection.hpp"

#include <boost/asio/post.hpp>

namespace agentrt::server::detail {

void Doorbell::ring(std::shared_ptr<Connection> c) {
  std::lock_guard guard{mu_};
  ready_.push_back(std::move(c));
  if (posted_)
    return;
  posted_ = true;
  boost::asio::post(io_, [this] { answer(); });
}

void Doorbell::answer() {
  std::vector<std::shared_ptr<Connection>> taken;
  {
    std::lock_guard guard{mu_};
    taken.swap(ready_);
    posted_ = false;
  }
  // From an I/O thread, handing work to strands queues it on this thread: no wake-up.
  for (auto& c : taken)
    c->take_outbox_soon();
}

void Doorbell::clear() {
  std::vector<std::shared_ptr<Connection>> dropped;
  std::lock_guard guard{mu_};
  dropped.swap(ready_);
}

} // namespace agentrt::server::detail
