#pragma once

// RuntimeCore: the composition root behind the public Runtime. It owns the actor system,
// the directory, the supervisor shards, the store, the registries, the blocking pool and
// the turn hub, and implements the Runtime's operations over them.
//
// Thread-safety: every member may be called from any thread, except the destructor.

#include <agentrt/call.hpp>
#include <agentrt/config.hpp>
#include <agentrt/result.hpp>
#include <agentrt/stats.hpp>
#include <agentrt/turn.hpp>

#include "actors/services.hpp"
#include "actors/session_directory.hpp"
#include "core/agent_registry.hpp"
#include "core/conversation_read.hpp"
#include "core/metrics.hpp"
#include "core/turn_services.hpp"
#include "core/wait_graph.hpp"
#include "runtime/direct_tools.hpp"
#include "runtime/fwd.hpp"
#include "runtime/id_minter.hpp"
#include "stores/fwd.hpp"

#include <caf/actor_system_config.hpp>

#include <atomic>
#include <memory>
#include <mutex>

namespace caf {
class actor_system;
} // namespace caf

namespace agentrt::detail {


/// A Call that has already failed with `error` (a refused sub-call: Turn::ask reads one
/// shape of outcome). Not counted in any metrics.
Call failed_call(std::string session_id, std::string agent, Error error);

class RuntimeCore {
public:
  explicit RuntimeCore(RuntimeConfig cfg);
  ~RuntimeCore();

  Result<Call> invoke(Request&& request);
  Reply ask(Request&& request);
  /// A sub-call of `parent` (see TurnServices::start_child); a refusal is an ended Call.
  ChildCall start_child(const CallPtr& parent, SubRequest sub);
  Result<OwnerSession> session_for(std::string_view agent, std::string_view owner);
  Result<bool> close(const SessionKey& key);
  Result<SessionInfo> describe(const SessionKey& key);
  /// Runtime::attach (runtime/call_attach.cpp).
  Result<Call> attach(const SessionKey& key, std::uint64_t call_id, std::uint64_t after_seq,
                      std::function<void(const Event&)> on_event);
  /// Runtime::history and Runtime::state (runtime/conversation_reads.cpp).
  Result<ConversationView> read(const SessionKey& key, std::uint64_t from, std::size_t limit,
                                bool with_state);
  /// Runtime::run_tool (runtime/direct_tools.cpp).
  void run_tool(ToolCall&& call, std::function<void(ToolReply)> done);
  void shutdown(std::chrono::milliseconds drain);

  const RuntimeConfig config;
  AgentRegistry registry;
  std::shared_ptr<ToolRegistry> tools;
  Metrics metrics;

private:
  /// Counts and logs a refusal; returns `error`.
  Error refuse(const std::string& session_id, Error error);
  /// Sends a validated call to its session, spawning it if needed; an Error if it cannot.
  std::optional<Error> dispatch(const CallPtr& call, std::size_t hash);

  std::shared_ptr<ResultGate> gate_;
  std::shared_ptr<BlockingPool> pool_;
  std::shared_ptr<GuardedStore> store_;
  std::shared_ptr<TurnHub> hub_;
  DirectTools direct_tools_;
  IdMinter minter_;
  WaitGraph waits_;
  SessionDirectory directory_;
  Services services_;
  std::atomic<std::uint64_t> next_call_id_{1};
  std::atomic<bool> accepting_{true};
  std::mutex shutdown_mu_;
  std::mutex close_mu_; // closes run one at a time (see close)
  // Declared last: destroyed first, while everything its actors point to still exists.
  caf::actor_system_config caf_config_;
  std::unique_ptr<caf::actor_system> system_;
};

} // namespace agentrt::detail
