#include "runtime/id_minter.hpp"

#include <boost/uuid/uuid_io.hpp>

namespace agentrt::detail {

namespace {

std::mt19937_64 seeded_engine() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  return std::mt19937_64{seq};
}

} // namespace

IdMinter::IdMinter() : engine_(seeded_engine()), gen_(&engine_) {
  // nop
}

std::string IdMinter::mint() {
  boost::uuids::uuid id;
  {
    MutexLock guard{mu_};
    id = gen_();
  }
  return boost::uuids::to_string(id);
}

} // namespace agentrt::detail
