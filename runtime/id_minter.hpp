#pragma once

// IdMinter: session ids (UUID v4) for one-shot sessions and owners' sessions.
//
// One per Runtime (no global generator). Minting happens on the host thread inside
// `invoke`, because the Call must name its session before any actor has seen it.
// Thread-safety: `mint` may be called concurrently (a mutex guards the generator).

#include "core/thread_annotations.hpp"

#include <boost/uuid/random_generator.hpp>

#include <random>
#include <string>

namespace agentrt::detail {

class IdMinter {
public:
  IdMinter();

  /// A new random (version 4) UUID in canonical text form, 36 characters.
  std::string mint();

private:
  Mutex mu_;
  std::mt19937_64 engine_ AGENTRT_GUARDED_BY(mu_);
  boost::uuids::basic_random_generator<std::mt19937_64> gen_ AGENTRT_GUARDED_BY(mu_);
};

} // namespace agentrt::detail
