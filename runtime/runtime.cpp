#include <agentrt/runtime.hpp>

#include <agentrt/errors.hpp>
#include <agentrt/session_store.hpp>
#include <agentrt/turn.hpp>

#include "actors/messages.hpp"
#include "actors/services.hpp"
#include "actors/session_actor.hpp"
#include "actors/session_directory.hpp"
#include "actors/supervisor_actor.hpp"
#include "core/agent_registry.hpp"
#include "runtime/blocking_pool.hpp"
#include "core/call_state.hpp"
#include "core/executor.hpp"
#include "stores/guarded_store.hpp"
#include "runtime/id_minter.hpp"
#include "core/metrics.hpp"
#include "core/turn_services.hpp"
#include "core/validation.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/logger.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace agentrt {

namespace detail {

namespace {

void validate(const RuntimeConfig& c) {
  auto fail = [](const char* what) {
    throw std::invalid_argument(std::string{"agentrt: RuntimeConfig::"} + what);
  };
  if (c.blocking_threads == 0)
    fail("blocking_threads must be at least 1");
  if (c.max_queue_depth == 0)
    fail("max_queue_depth must be at least 1");
  if (c.max_input_bytes == 0)
    fail("max_input_bytes must be at least 1");
  if (c.idle_timeout.count() <= 0)
    fail("idle_timeout must be positive");
  if (c.max_lifetime.count() <= 0)
    fail("max_lifetime must be positive");
  if (c.expiry_interval.count() <= 0)
    fail("expiry_interval must be positive");
  if (c.default_timeout.count() <= 0)
    fail("default_timeout must be positive");
  if (c.shutdown_drain.count() < 0)
    fail("shutdown_drain must not be negative");
}

RuntimeConfig resolved(RuntimeConfig c) {
  validate(c);
  for (auto* d : {&c.idle_timeout, &c.max_lifetime, &c.expiry_interval, &c.default_timeout,
                  &c.shutdown_drain})
    *d = saturated(*d);
  if (c.worker_threads == 0)
    c.worker_threads = std::max(1u, std::thread::hardware_concurrency());
  if (c.supervisor_shards == 0)
    c.supervisor_shards = c.worker_threads;
  if (!c.store)
    c.store = c.store_path.empty() ? make_memory_store() : open_sqlite_store(c.store_path);
  if (!c.logger) {
    c.logger = std::make_shared<spdlog::logger>("agentrt",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
    c.logger->set_level(spdlog::level::off);
  }
  return c;
}

} // namespace

/// At most `n` bytes of `s`, cut at a UTF-8 character boundary (for error messages that
/// quote what the caller sent).
std::string clip(const std::string& s, std::size_t n) {
  if (s.size() <= n)
    return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n; // s[n] continues a character: cut before it starts
  return s.substr(0, n) + "...";
}

std::string chain_text(const std::vector<SessionKey>& chain, const SessionKey& last) {
  std::string text;
  for (auto& k : chain)
    text += k.agent + "/" + k.session_id + " -> ";
  return text + last.agent + "/" + last.session_id;
}

class RuntimeCore;

/// What turns reach outside their session: tools, sub-agents, the pool they wait on. Every
/// blocking turn holds it (shared_ptr), so a handler abandoned at shutdown that calls a
/// tool or a sub-agent later finds it closed (`shutting_down`), never freed: the tools, the
/// pool and the logger are shared, and the runtime itself is reached only between `attach`
/// and `detach`, counted.
class TurnHub final : public TurnServices {
public:
  TurnHub(std::shared_ptr<ToolRegistry> tools, std::shared_ptr<BlockingPool> pool,
          std::shared_ptr<spdlog::logger> log)
    : tools_(std::move(tools)), pool_(std::move(pool)), log_(std::move(log)) {
    // nop
  }

  void attach(RuntimeCore* core) {
    std::lock_guard guard{mu_};
    core_ = core;
  }

  /// After this, start_child refuses; waits for the ones in progress.
  void detach() {
    std::unique_lock lock{mu_};
    core_ = nullptr;
    idle_.wait(lock, [this] { return active_ == 0; });
  }

  Call start_child(const CallPtr& parent, SubRequest request) override;
  ToolResponse run_tool(TurnContext& ctx, const std::string& name, std::string arguments,
                        std::string operation) override;
  Executor& pool() override {
    return *pool_;
  }

private:
  std::shared_ptr<ToolRegistry> tools_;
  std::shared_ptr<BlockingPool> pool_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mu_;
  std::condition_variable idle_;
  RuntimeCore* core_ = nullptr; // guarded by mu_
  int active_ = 0;              // guarded by mu_
};

class RuntimeCore {
public:
  explicit RuntimeCore(RuntimeConfig cfg)
    : config(resolved(std::move(cfg))),
      gate(std::make_shared<ResultGate>()),
      blocking_pool(std::make_shared<BlockingPool>(config.blocking_threads,
                                                   config.max_blocking_threads)),
      store(std::make_shared<GuardedStore>(config.store, config.logger)),
      tools(std::make_shared<ToolRegistry>()),
      hub(std::make_shared<TurnHub>(tools, blocking_pool, config.logger)) {
    hub->attach(this);
    caf_config.set("scheduler.max-threads", config.worker_threads);
    caf_config.set("scheduler.policy", config.scheduler == SchedulerPolicy::sharing
                                         ? caf::atom("sharing")
                                         : caf::atom("stealing"));
    system = std::make_unique<caf::actor_system>(caf_config);
    services.config = config;
    services.log = config.logger;
    services.executor = blocking_pool.get();
    services.gate = gate;
    services.metrics = &metrics;
    services.directory = &directory;
    services.store = store.get();
    services.turn_services = hub;
    for (std::size_t i = 0; i < config.supervisor_shards; ++i)
      services.supervisors.push_back(system->spawn(supervisor_behavior, &services, i == 0));
    release_caf_logger_reference();
    config.logger->info("[-/-] agentrt runtime started: {} workers, {} blocking threads, {} "
                        "supervisor shards",
                        config.worker_threads, config.blocking_threads,
                        config.supervisor_shards);
  }

  ~RuntimeCore() {
    shutdown(config.shutdown_drain);
  }

  Call invoke(Request&& request) {
    auto now = Clock::now();
    // A timeout past a year is a year: far beyond any turn, and no clock overflow.
    auto timeout = std::min<std::chrono::milliseconds>(
      request.timeout.count() > 0 ? request.timeout : config.default_timeout,
      std::chrono::hours(24 * 365));
    errc error = errc::ok;
    std::string detail;
    bool minted = false;
    if (!accepting.load(std::memory_order_acquire)) {
      error = errc::shutting_down;
      detail = "the runtime is shutting down and takes no more calls";
    } else if (request.session_id.empty()) {
      // A one-shot call always creates its session: check the agent before minting an id.
      if (!registry.contains(request.agent)) {
        error = errc::unknown_agent;
        detail = "unknown agent type '" + clip(request.agent, 80) + "'";
      } else {
        request.session_id = minter.mint();
        minted = true;
      }
    } else if (!valid_session_id(request.session_id)) {
      error = errc::invalid_session_id;
      detail = "session id '" + clip(request.session_id, 160)
               + "' is not 1-128 characters of [A-Za-z0-9._:-]";
    }
    if (error == errc::ok && request.input.size() > config.max_input_bytes) {
      error = errc::input_too_large;
      detail = "input is " + std::to_string(request.input.size()) + " bytes; the limit is "
               + std::to_string(config.max_input_bytes);
    }
    bool one_shot = error == errc::ok && minted;
    auto id = next_call_id.fetch_add(1, std::memory_order_relaxed);
    auto call = std::make_shared<CallState>(id, std::move(request), now, timeout);
    call->one_shot = one_shot;
    if (error != errc::ok)
      return refuse(std::move(call), error, std::move(detail));
    return start(std::move(call));
  }

  /// Sends a validated call to its session, creating the session if needed.
  Call start(CallPtr call) {
    auto hash = key_hash(call->agent, call->session_id);
    auto outcome = directory.dispatch(call, hash, [&]() -> session_actor {
      auto entry = registry.find(call->agent);
      if (!entry)
        return {};
      return spawn_session(*system, services, SessionKey{call->agent, call->session_id},
                           std::move(entry), hash);
    });
    switch (outcome) {
      case SessionDirectory::Dispatch::sent:
        break;
      case SessionDirectory::Dispatch::refused:
        return refuse(std::move(call), errc::unknown_agent,
                      "unknown agent type '" + clip(call->agent, 80) + "'");
      case SessionDirectory::Dispatch::closing:
        return refuse(std::move(call), errc::session_closed,
                      "the session is being closed; call again to start a new one");
      case SessionDirectory::Dispatch::closed:
        return refuse(std::move(call), errc::shutting_down,
                      "the runtime is shutting down and takes no more calls");
    }
    return Call{std::move(call)};
  }

  /// A sub-call of `parent` (see TurnServices::start_child).
  Call start_child(const CallPtr& parent, SubRequest sub) {
    auto now = Clock::now();
    SessionKey target{sub.agent, parent->session_id};
    auto chain = parent->chain;
    chain.push_back(SessionKey{parent->agent, parent->session_id});
    Request r;
    r.agent = std::move(sub.agent);
    r.session_id = parent->session_id;
    r.input = std::move(sub.input);
    r.params = std::move(sub.params);
    auto remaining = parent->deadline > now ? parent->deadline - now : Clock::duration::zero();
    auto call = std::make_shared<CallState>(next_call_id.fetch_add(1, std::memory_order_relaxed),
                                            std::move(r), now, remaining);
    call->forward_to = parent;
    call->one_shot = parent->one_shot;
    bool reentrant = std::find(chain.begin(), chain.end(), target) != chain.end();
    auto path = chain_text(chain, target);
    call->chain = std::move(chain);
    if (reentrant)
      return refuse(std::move(call), errc::reentrant_call,
                    "reentrant call " + path + ": " + target.agent + "/" + target.session_id
                      + " is already waiting in this chain");
    if (!accepting.load(std::memory_order_acquire))
      return refuse(std::move(call), errc::shutting_down,
                    "the runtime is shutting down and takes no more calls");
    if (call->input.size() > config.max_input_bytes)
      return refuse(std::move(call), errc::input_too_large,
                    "input is " + std::to_string(call->input.size()) + " bytes; the limit is "
                      + std::to_string(config.max_input_bytes));
    config.logger->debug("[{}/{}] sub-call {} from call {}", call->session_id, call->id, path,
                         parent->id);
    return start(std::move(call));
  }

  Call refuse(CallPtr call, errc error, std::string detail) {
    config.logger->debug("[{}/{}] refused: {}", call->session_id, call->id, detail);
    call->finish_if_open(error, std::move(detail));
    metrics.stripe(call->id).rejected.fetch_add(1, std::memory_order_relaxed);
    return Call{std::move(call)};
  }

  OwnerSession session_for(std::string_view agent, std::string_view owner) {
    OwnerSession result;
    if (!accepting.load(std::memory_order_acquire))
      result.error = make_error_code(errc::shutting_down);
    else if (!registry.contains(agent))
      result.error = make_error_code(errc::unknown_agent);
    else if (owner.empty() || owner.size() > max_owner_length)
      result.error = make_error_code(errc::invalid_owner);
    else if (auto ec = store->owner_session(agent, owner, minter.mint(),
                                                   result.session_id, result.created))
      result.error = make_error_code(errc::store_failed);
    return result;
  }

  bool close(const SessionKey& key) {
    // A tombstone holds the key while the session ends and its stored data is erased, so
    // a call racing with close cannot start a session that reads what is being erased.
    // Closes run one at a time: a second close of the key must not lift the first one's
    // tombstone while the first still waits.
    std::lock_guard serial{close_mu};
    auto hash = key_hash(key.agent, key.session_id);
    auto live = directory.begin_close(key, hash);
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
    if (auto ec = store->erase(key))
      config.logger->warn("[{}/-] close could not erase the stored session: {}",
                          key.session_id, ec.message());
    directory.end_close(key, hash);
    return live.has_value();
  }

  std::optional<SessionInfo> describe(const SessionKey& key) {
    auto hdl = directory.find(key, key_hash(key.agent, key.session_id));
    if (!hdl)
      return std::nullopt;
    auto promise = std::make_shared<std::promise<std::optional<SessionInfo>>>();
    auto future = promise->get_future();
    caf::anon_send(*hdl, describe_atom::value, std::move(promise));
    try {
      return future.get();
    } catch (const std::future_error&) {
      return std::nullopt; // the session ended before it could answer
    }
  }

  void shutdown(std::chrono::milliseconds drain) {
    drain = saturated(std::max(drain, std::chrono::milliseconds::zero()));
    std::lock_guard guard{shutdown_mu};
    if (!system)
      return;
    accepting.store(false, std::memory_order_release);
    auto sessions = directory.close_all();
    config.logger->info("[-/-] agentrt shutting down: {} live sessions, drain {} ms",
                        sessions.size(), drain.count());
    auto drain_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(drain).count();
    for (auto& s : sessions)
      caf::anon_send(s, drain_atom::value, static_cast<std::int64_t>(drain_ns));
    sessions.clear();
    // Sessions stop by themselves within the drain time; wait for them (bounded), so that
    // turns finishing in time still deliver their results through the gate.
    auto deadline = Clock::now() + drain + std::chrono::seconds(1);
    while (metrics.live.load(std::memory_order_relaxed) > 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (auto& sup : services.supervisors)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    services.supervisors.clear();
    hub->detach();
    gate->close();
    auto abandoned = blocking_pool->stop(std::chrono::milliseconds(200));
    if (abandoned > 0)
      config.logger->warn("[-/-] {} blocking handlers ignored their stop token past the "
                          "drain; their threads were abandoned",
                          abandoned);
    system.reset();
    config.logger->info("[-/-] agentrt shut down");
  }

  RuntimeConfig config;
  std::shared_ptr<ResultGate> gate;
  std::shared_ptr<BlockingPool> blocking_pool;
  /// The configured store, every call guarded (see GuardedStore).
  std::shared_ptr<GuardedStore> store;
  AgentRegistry registry;
  std::shared_ptr<ToolRegistry> tools;
  std::shared_ptr<TurnHub> hub;
  IdMinter minter;
  Metrics metrics;
  SessionDirectory directory;
  Services services;
  std::atomic<std::uint64_t> next_call_id{1};
  std::atomic<bool> accepting{true};
  std::mutex shutdown_mu;
  std::mutex close_mu; // see close()
  // Declared last: destroyed first, while everything its actors point to still exists.
  caf::actor_system_config caf_config;
  std::unique_ptr<caf::actor_system> system;
};

Call TurnHub::start_child(const CallPtr& parent, SubRequest request) {
  RuntimeCore* core = nullptr;
  {
    std::lock_guard guard{mu_};
    core = core_;
    if (core != nullptr) {
      ++active_;
    } else {
      Request r;
      r.agent = std::move(request.agent);
      r.session_id = parent->session_id;
      auto call = std::make_shared<CallState>(0, std::move(r), Clock::now(), Clock::duration{});
      call->finish_if_open(errc::shutting_down, "the runtime has shut down");
      return Call{std::move(call)};
    }
  }
  auto call = core->start_child(parent, std::move(request));
  std::lock_guard guard{mu_};
  if (--active_ == 0)
    idle_.notify_all();
  return call;
}

ToolResponse TurnHub::run_tool(TurnContext& ctx, const std::string& name,
                               std::string arguments, std::string operation) {
  auto& call = *ctx.call;
  ToolResponse failure;
  failure.ok = false;
  auto fail = [&](errc e, std::string message) {
    failure.code = make_error_code(e);
    failure.error = std::move(message);
    log_->debug("[{}/{}] tool {} failed: {}", call.session_id, call.id, name,
                         failure.error);
    return failure;
  };
  auto entry = tools_->find(name);
  if (!entry)
    return fail(errc::unknown_tool, "unknown tool '" + clip(name, 80) + "'");
  ToolRequest request;
  request.tool = name;
  request.operation = std::move(operation);
  request.arguments = std::move(arguments);
  request.agent = call.agent;
  request.session_id = call.session_id;
  request.call_id = call.id;
  request.deadline = call.deadline;
  if (entry->options.timeout.count() > 0)
    request.deadline =
      std::min(request.deadline, Clock::now() + saturated(entry->options.timeout));
  auto guarded = [](const ToolHandler& handler, const ToolRequest& req) {
    ToolResponse r;
    try {
      r = handler(req);
    } catch (const std::exception& e) {
      r = ToolResponse{false, {}, std::string{"the tool threw: "} + e.what(), {}, {}};
    } catch (...) {
      r = ToolResponse{false, {}, "the tool threw an unknown exception", {}, {}};
    }
    if (!r.ok && !r.code)
      r.code = make_error_code(errc::tool_failed);
    return r;
  };

  if (!entry->options.blocking) {
    request.stop = call.stop.get_token();
    auto r = guarded(*entry->handler, request);
    if (!r.ok)
      return fail(errc::tool_failed, r.error);
    return r;
  }
  if (!ctx.blocking)
    return fail(errc::blocking_required,
                "tool '" + name + "' blocks: agent '" + call.agent
                  + "' must be registered with AgentOptions::blocking = true to call it");

  // A blocking tool runs on the pool while this turn waits, at most until the deadline.
  // Past it, the tool is asked to stop and abandoned: its job owns all it touches.
  struct Run {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    ToolResponse response;
    std::stop_source stop;
  };
  auto run = std::make_shared<Run>();
  request.stop = run->stop.get_token();
  auto deadline = request.deadline;
  pool_->post([run, handler = entry->handler, request = std::move(request), guarded] {
    auto r = guarded(*handler, request);
    {
      std::lock_guard g{run->mu};
      run->response = std::move(r);
      run->done = true;
    }
    run->cv.notify_all();
  });
  std::stop_callback propagate{call.stop.get_token(), [run] {
                                 // Under the lock: the waiter cannot miss it between its
                                 // check and its wait.
                                 std::lock_guard g{run->mu};
                                 run->stop.request_stop();
                                 run->cv.notify_all();
                               }};
  std::unique_lock lock{run->mu};
  {
    WaitScope waiting{*pool_};
    run->cv.wait_until(lock, deadline,
                       [&] { return run->done || run->stop.stop_requested(); });
  }
  if (!run->done) {
    run->stop.request_stop();
    if (call.stop.stop_requested())
      return fail(errc::cancelled, "the call was stopped while tool '" + name + "' ran");
    return fail(errc::timeout, "tool '" + name + "' did not finish before its deadline");
  }
  if (!run->response.ok)
    return fail(errc::tool_failed, run->response.error);
  return run->response;
}

} // namespace detail

namespace {

/// The agent behind `register_handler`: every session's instance calls the same function.
class FunctionAgent final : public Agent {
public:
  explicit FunctionAgent(std::shared_ptr<const TurnHandler> fn) : fn_(std::move(fn)) {
    // nop
  }

  std::string handle(Turn& turn) override {
    return (*fn_)(turn);
  }

private:
  std::shared_ptr<const TurnHandler> fn_;
};

} // namespace

Runtime::Runtime(RuntimeConfig config)
  : core_(std::make_unique<detail::RuntimeCore>(std::move(config))) {
  // nop
}

Runtime::~Runtime() = default;

void Runtime::register_agent(std::string type, AgentFactory factory, AgentOptions options) {
  core_->registry.add(std::move(type), std::move(factory), options);
}

void Runtime::register_handler(std::string type, TurnHandler handler, AgentOptions options) {
  if (!handler)
    throw std::invalid_argument("agentrt: agent type '" + type + "' needs a handler");
  auto fn = std::make_shared<const TurnHandler>(std::move(handler));
  register_agent(
    std::move(type),
    [fn](const SessionKey&) { return std::make_unique<FunctionAgent>(fn); }, options);
}

void Runtime::register_tool(std::string name, ToolHandler handler, ToolOptions options) {
  core_->tools->add(std::move(name), std::move(handler), options);
}

Call Runtime::invoke(Request request) {
  return core_->invoke(std::move(request));
}

Reply Runtime::call(Request request) {
  return invoke(std::move(request)).take();
}

OwnerSession Runtime::session_for(std::string_view agent, std::string_view owner) {
  return core_->session_for(agent, owner);
}

bool Runtime::close(const SessionKey& key) {
  return core_->close(key);
}

std::optional<SessionInfo> Runtime::describe(const SessionKey& key) const {
  return core_->describe(key);
}

RuntimeStats Runtime::stats() const {
  return core_->metrics.snapshot();
}

const RuntimeConfig& Runtime::config() const noexcept {
  return core_->config;
}

void Runtime::shutdown(std::chrono::milliseconds drain) {
  core_->shutdown(drain);
}

} // namespace agentrt
