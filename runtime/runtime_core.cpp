#include "runtime/runtime_core.hpp"

#include "actors/messages.hpp"
#include "actors/session_actor.hpp"
#include "actors/supervisor_actor.hpp"
#include "core/call_state.hpp"
#include "core/current_turn.hpp"
#include "core/executor.hpp"
#include "core/validation.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/config.hpp"
#include "runtime/refusals.hpp"
#include "runtime/turn_hub.hpp"
#include "stores/guarded_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>

#include <algorithm>
#include <future>
#include <thread>

namespace agentrt::detail {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

/// A call's timeout: its own (a year at most: far beyond any turn, and no clock overflow),
/// or the runtime's default.
Clock::duration timeout_of(const Request& r, const RuntimeConfig& config) {
  return std::min<std::chrono::milliseconds>(r.timeout.value_or(config.default_timeout),
                                             std::chrono::hours(24 * 365));
}

} // namespace

Call failed_call(std::string session_id, std::string agent, Error error) {
  Request r;
  r.agent = std::move(agent);
  r.session_id = std::move(session_id);
  auto call = make_call_state(0, std::move(r), Clock::now(), Clock::duration{});
  call->end(static_cast<errc>(error.code.value()), std::move(error.message));
  return Call{std::move(call)};
}

RuntimeCore::RuntimeCore(RuntimeConfig cfg)
  : config(resolved(std::move(cfg))),
    tools(std::make_shared<ToolRegistry>()),
    gate_(std::make_shared<ResultGate>()),
    pool_(std::make_shared<BlockingPool>(config.blocking_threads, config.max_blocking_threads)),
    store_(std::make_shared<GuardedStore>(config.store, config.logger)),
    hub_(std::make_shared<TurnHub>(tools, pool_, config.logger)),
    direct_tools_(tools, pool_, config.logger, config.max_input_bytes, config.default_timeout) {
  hub_->attach(this);
  caf_config_.set("scheduler.max-threads", *config.worker_threads);
  caf_config_.set("scheduler.policy", config.scheduler == SchedulerPolicy::sharing
                                        ? caf::atom("sharing")
                                        : caf::atom("stealing"));
  system_ = std::make_unique<caf::actor_system>(caf_config_);
  services_.config = config;
  services_.call_limits = {config.calls_kept, config.calls_kept_for, config.request_ids_kept,
                           config.request_id_ttl};
  services_.log = config.logger;
  services_.executor = pool_.get();
  services_.gate = gate_;
  services_.metrics = &metrics;
  services_.directory = &directory_;
  services_.store = store_.get();
  services_.turn_services = hub_;
  for (std::size_t i = 0; i < *config.supervisor_shards; ++i)
    services_.supervisors.push_back(system_->spawn(supervisor_behavior, &services_, i == 0));
  release_caf_logger_reference();
  config.logger->info("[-/-] agentrt runtime started: {} workers, {} blocking threads, {} "
                      "supervisor shards",
                      *config.worker_threads, config.blocking_threads,
                      *config.supervisor_shards);
}

RuntimeCore::~RuntimeCore() {
  shutdown(config.shutdown_drain);
}

Error RuntimeCore::refuse(const std::string& session_id, Error error) {
  config.logger->debug("[{}/-] refused: {}", session_id.empty() ? "-" : session_id,
                       error.message);
  metrics.stripe(std::hash<std::string>{}(session_id)).rejected.fetch_add(1, relaxed);
  return error;
}

Result<Call> RuntimeCore::invoke(Request&& request) {
  auto now = Clock::now();
  if (!accepting_.load(std::memory_order_acquire))
    return refuse(request.session_id, shutting_down());
  bool one_shot = request.session_id.empty();
  if (one_shot) {
    // A one-shot call always creates its session: check the agent before minting an id.
    if (!registry.contains(request.agent))
      return refuse(request.session_id, unknown_agent(request.agent));
    request.session_id = minter_.mint();
  } else if (!valid_session_id(request.session_id)) {
    return refuse(request.session_id, invalid_session_id(request.session_id));
  }
  if (request.input.size() > config.max_input_bytes)
    return refuse(request.session_id, input_too_large(request.input.size(), config.max_input_bytes));
  if (request.timeout && request.timeout->count() <= 0)
    return refuse(request.session_id, invalid_timeout());
  if (!request.request_id.empty())
    if (auto bad = invalid_request_id(request.request_id, one_shot, config.request_ids_kept))
      return refuse(request.session_id, std::move(*bad));
  auto hash = key_hash(request.agent, request.session_id);
  auto timeout = timeout_of(request, config);
  auto call = make_call_state(next_call_id_.fetch_add(1, relaxed),
                                          std::move(request), now, timeout,
                                          &metrics.stripe(hash));
  call->one_shot = one_shot;
  call->ephemeral = one_shot;
  if (call->resumable || !call->request_id.empty()) { // someone may follow it later
    call->keep_events = static_cast<std::uint32_t>(config.events_kept);
    call->keep_bytes = static_cast<std::uint32_t>(config.event_bytes_kept);
  }
  if (auto refused = dispatch(call, hash))
    return refuse(call->session_id, std::move(*refused));
  return Call{std::move(call)};
}

void RuntimeCore::run_tool(ToolCall&& call, std::function<void(ToolReply)> done) {
  if (!accepting_.load(std::memory_order_acquire)) {
    ToolReply refused{std::move(call.session_id), std::move(call.tool), {},
                      make_error_code(errc::shutting_down), shutting_down().message};
    try {
      done(std::move(refused));
    } catch (...) { // documented: ignored
    }
    return;
  }
  direct_tools_.run(std::move(call), std::move(done), minter_);
}

Reply RuntimeCore::ask(Request&& request) {
  SessionKey target{request.agent, request.session_id};
  auto as_reply = [&](Error e) {
    Reply r;
    r.session_id = target.session_id;
    r.agent = target.agent;
    r.error = e.code;
    r.message = std::move(e.message);
    return r;
  };
  auto refused = [&](Error e) { return as_reply(refuse(target.session_id, std::move(e))); };
  if (auto no = waiting_not_allowed(target, "Runtime::ask", true))
    return refused(std::move(*no));
  // From a handler, its session waits on the target for as long as the call takes.
  WaitEdge waiting;
  if (auto* current = current_turn().key; current && !target.session_id.empty())
    if (auto cycle = waits_.add(*current, target, waiting))
      return refused(wait_cycle(*cycle));
  auto call = invoke(std::move(request));
  if (!call)
    return as_reply(std::move(call).error()); // invoke counted it
  return call->take();
}

std::optional<Error> RuntimeCore::dispatch(const CallPtr& call, std::size_t hash) {
  auto outcome = directory_.dispatch(call, hash, [&]() -> session_actor {
    auto entry = registry.find(call->agent);
    if (!entry)
      return {};
    return spawn_session(*system_, services_, SessionKey{call->agent, call->session_id},
                         std::move(entry), hash);
  });
  switch (outcome) {
    case SessionDirectory::Dispatch::sent:
      return std::nullopt;
    case SessionDirectory::Dispatch::refused:
      return unknown_agent(call->agent);
    case SessionDirectory::Dispatch::closing:
      return session_closing();
    case SessionDirectory::Dispatch::closed:
      return shutting_down();
  }
  return shutting_down();
}

ChildCall RuntimeCore::start_child(const CallPtr& parent, SubRequest sub) {
  auto now = Clock::now();
  SessionKey target{sub.agent, parent->session_id};
  auto chain = parent->chain;
  chain.push_back(SessionKey{parent->agent, parent->session_id});
  auto refused = [&](Error e) {
    refuse(parent->session_id, e);
    return ChildCall{failed_call(parent->session_id, target.agent, std::move(e)), {}};
  };
  if (std::find(chain.begin(), chain.end(), target) != chain.end())
    return refused(reentrant_chain(chain, target));
  WaitEdge waiting;
  if (auto cycle = waits_.add(chain.back(), target, waiting))
    return refused(wait_cycle(*cycle));
  if (!accepting_.load(std::memory_order_acquire))
    return refused(shutting_down());
  if (sub.input.size() > config.max_input_bytes)
    return refused(input_too_large(sub.input.size(), config.max_input_bytes));
  Request r;
  r.agent = std::move(sub.agent);
  r.session_id = parent->session_id;
  r.input = std::move(sub.input);
  r.params = std::move(sub.params);
  auto hash = key_hash(r.agent, r.session_id);
  auto remaining = parent->deadline > now ? parent->deadline - now : Clock::duration::zero();
  auto call = make_call_state(next_call_id_.fetch_add(1, relaxed), std::move(r),
                                          now, remaining, &metrics.stripe(hash));
  call->forward_to = parent;
  call->ephemeral = parent->ephemeral;
  call->chain = std::move(chain);
  config.logger->debug("[{}/{}] sub-call of {} from call {}", call->session_id, call->id,
                       call->agent, parent->id);
  if (auto e = dispatch(call, hash))
    return refused(std::move(*e));
  return ChildCall{Call{std::move(call)}, std::move(waiting)};
}

Result<OwnerSession> RuntimeCore::session_for(std::string_view agent, std::string_view owner) {
  if (!accepting_.load(std::memory_order_acquire))
    return shutting_down();
  if (!registry.contains(agent))
    return unknown_agent(std::string{agent});
  if (owner.empty() || owner.size() > max_owner_length)
    return Error{errc::invalid_owner, "an owner is 1-" + std::to_string(max_owner_length)
                                        + " bytes; this one is " + std::to_string(owner.size())};
  auto r = store_->owner_session(agent, owner, minter_.mint());
  if (!r)
    return Error{errc::store_failed,
                 "the session store could not map the owner: " + r.error().message};
  return r;
}

Result<bool> RuntimeCore::close(const SessionKey& key) {
  if (!registry.contains(key.agent))
    return unknown_agent(key.agent);
  if (!valid_session_id(key.session_id))
    return invalid_session_id(key.session_id);
  if (auto no = waiting_not_allowed(key, "Runtime::close", false))
    return std::move(*no);
  // A tombstone holds the key while the session ends and its stored data is erased, so
  // a call racing with close cannot start a session that reads what is being erased.
  // Closes run one at a time: a second close of the key must not lift the first one's
  // tombstone while the first still waits.
  std::lock_guard serial{close_mu_};
  auto hash = key_hash(key.agent, key.session_id);
  auto live = directory_.begin_close(key, hash);
  if (live) {
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    caf::anon_send(*live, close_atom::value, std::move(closed));
    try {
      done.get(); // the session will save nothing more
    } catch (const std::future_error&) {
      // it ended before it read the message: it saves nothing either
    }
  }
  auto erased = store_->erase(key);
  directory_.end_close(key, hash);
  if (!erased) {
    config.logger->warn("[{}/-] close could not erase the stored session: {}", key.session_id,
                        erased.error().message);
    return Error{errc::store_failed,
                 "the session store could not erase the session: " + erased.error().message};
  }
  return live.has_value();
}

Result<SessionInfo> RuntimeCore::describe(const SessionKey& key) {
  if (!registry.contains(key.agent))
    return unknown_agent(key.agent);
  if (!valid_session_id(key.session_id))
    return invalid_session_id(key.session_id);
  if (auto no = waiting_not_allowed(key, "Runtime::describe", false))
    return std::move(*no);
  auto not_live = [&] {
    return Error{errc::not_found, "no live session " + clip(key.agent, 80) + "/"
                                    + clip(key.session_id, 160)};
  };
  auto hdl = directory_.find(key, key_hash(key.agent, key.session_id));
  if (!hdl)
    return not_live();
  auto promise = std::make_shared<std::promise<std::optional<SessionInfo>>>();
  auto future = promise->get_future();
  caf::anon_send(*hdl, describe_atom::value, std::move(promise));
  try {
    if (auto info = future.get())
      return std::move(*info);
  } catch (const std::future_error&) {
    // the session ended before it could answer
  }
  return not_live();
}

void RuntimeCore::shutdown(std::chrono::milliseconds drain) {
  drain = saturated(std::max(drain, std::chrono::milliseconds::zero()));
  std::lock_guard guard{shutdown_mu_};
  if (!system_)
    return;
  accepting_.store(false, std::memory_order_release);
  auto sessions = directory_.close_all();
  config.logger->info("[-/-] agentrt shutting down: {} live sessions, drain {} ms",
                      sessions.size(), drain.count());
  auto drain_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(drain).count();
  for (auto& s : sessions)
    caf::anon_send(s, drain_atom::value, static_cast<std::int64_t>(drain_ns));
  sessions.clear();
  // Sessions stop by themselves within the drain time; wait for them (bounded), so that
  // turns finishing in time still deliver their results through the gate.
  auto deadline = Clock::now() + drain + std::chrono::seconds(1);
  while (metrics.live.load(relaxed) > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& sup : services_.supervisors)
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  services_.supervisors.clear();
  hub_->detach();
  direct_tools_.close();
  gate_->close();
  auto abandoned = pool_->stop(std::chrono::milliseconds(200));
  if (abandoned > 0)
    config.logger->warn("[-/-] {} blocking handlers ignored their stop token past the drain; "
                        "their threads were abandoned",
                        abandoned);
  system_.reset();
  config.logger->info("[-/-] agentrt shut down");
}

} // namespace agentrt::detail
