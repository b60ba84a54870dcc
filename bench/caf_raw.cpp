#include "caf_raw.hpp"

#include "baselines.hpp" // SessionMap
#include "transcript.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <future>

namespace bench {

namespace {

using raw_turn_atom = caf::atom_constant<caf::atom("rawturn")>;
using raw_call_atom = caf::atom_constant<caf::atom("rawcall")>;

struct RawSession {
  Transcript transcript;
};

// Pointers travel as integers: CAF 0.17 rejects raw pointers in messages, and these never
// leave the process (the caller keeps the Recorder / promise alive until completion).
caf::behavior raw_session(caf::stateful_actor<RawSession>* self, Work work) {
  return {
    [self, work](raw_turn_atom, std::uint64_t rec, std::uint64_t index) {
      work();
      auto turn = self->state.transcript.record(turn_input, turn_output);
      reinterpret_cast<Recorder*>(rec)->complete(index, turn, true);
    },
    [self, work](raw_call_atom, std::uint64_t promise) {
      work();
      auto turn = self->state.transcript.record(turn_input, turn_output);
      reinterpret_cast<std::promise<std::uint64_t>*>(promise)->set_value(turn);
    },
  };
}

caf::actor_system_config& configure(caf::actor_system_config& cfg, std::size_t workers,
                                   bool stealing) {
  cfg.set("scheduler.max-threads", workers);
  cfg.set("scheduler.policy", stealing ? caf::atom("stealing") : caf::atom("sharing"));
  return cfg;
}

} // namespace

struct CafRawSystem::Impl {
  Impl(Work w, std::size_t workers, bool stealing)
    : work(w), system(configure(cfg, workers, stealing)) {
    // nop
  }

  ~Impl() {
    // Sessions live until told to stop, as agentrt's do until shut down.
    sessions.for_each([](caf::actor& a) { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); });
  }

  caf::actor& session(const std::string& key) {
    return sessions.get(key, [this] { return std::make_unique<caf::actor>(system.spawn(raw_session, work)); });
  }

  Work work;
  caf::actor_system_config cfg;
  caf::actor_system system;
  SessionMap<caf::actor> sessions;
};

CafRawSystem::CafRawSystem(Work work, std::size_t workers, bool stealing)
  : impl_(std::make_unique<Impl>(work, workers, stealing)) {
  // nop
}

CafRawSystem::~CafRawSystem() = default;

void CafRawSystem::submit(const std::string& key, Recorder& rec, std::size_t index) {
  caf::anon_send(impl_->session(key), raw_turn_atom::value, reinterpret_cast<std::uint64_t>(&rec),
                 static_cast<std::uint64_t>(index));
}

std::uint64_t CafRawSystem::call(const std::string& key) {
  std::promise<std::uint64_t> p;
  auto f = p.get_future();
  caf::anon_send(impl_->session(key), raw_call_atom::value, reinterpret_cast<std::uint64_t>(&p));
  return f.get();
}

} // namespace bench
