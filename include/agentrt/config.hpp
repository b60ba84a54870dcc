#pragma once

// RuntimeConfig: every knob of a Runtime, each default with the reason for its value.

#include <agentrt/postgres_options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace spdlog {
class logger;
} // namespace spdlog

namespace agentrt {

class SessionStore;

/// How the actor workers pick up work.
enum class SchedulerPolicy : std::uint8_t {
  /// One shared queue. Measured here (2 cores): spawning sessions from actors is ~100x
  /// faster than with work stealing, and call latency is lower. The default.
  sharing,
  /// Per-worker queues with stealing: can win with many cores and long-running actors.
  stealing,
};

/// Every knob of a Runtime. Durations above 100 years count as 100 years (never, for a
/// session): `std::chrono::milliseconds::max()` means "no limit". An unset optional takes
/// the default its comment gives.
struct RuntimeConfig {
  /// Actor worker threads; unset: one per hardware thread. More workers than cores only
  /// adds context switches (measured: twice the latency on 2 cores with 4 workers).
  std::optional<std::size_t> worker_threads;

  SchedulerPolicy scheduler = SchedulerPolicy::sharing;

  /// Threads running blocking handlers. A blocking handler holds its thread for its whole
  /// turn, so this is the number of blocking turns that can run at once; 16 keeps a small
  /// host responsive without hundreds of idle threads. Threads start when a blocking job
  /// first needs one (a runtime with only inline and coroutine agents starts none).
  /// Coroutine agents hold no thread while they wait: prefer them for model calls.
  std::size_t blocking_threads = 16;

  /// Ceiling on blocking threads while some wait on sub-agents or blocking tools: each such
  /// wait adds a thread so the work it waits for cannot starve. 256 bounds a runaway fan-out.
  std::size_t max_blocking_threads = 256;

  /// Supervisor shards (each owns the lifecycle of the sessions hashed to it); unset: one
  /// per worker thread, so expiry sweeps spread over the workers.
  std::optional<std::size_t> supervisor_shards;

  /// A session with no running or queued work for this long is expired: it rests in the
  /// store (its actor freed; the in-memory store keeps it packed, a few hundred bytes) and
  /// comes back with its context on its next call. 15 minutes outlasts a user reading a
  /// reply and typing the next message, and frees abandoned sessions' actors.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(15);

  /// A session older than this is ended once it is idle, so long-lived sessions cannot hold
  /// memory forever (8 hours: a working day).
  std::chrono::milliseconds max_lifetime = std::chrono::hours(8);

  /// How often each supervisor shard looks for sessions to expire: the precision of
  /// `idle_timeout` and `max_lifetime`. One sweep a second per shard costs nothing.
  std::chrono::milliseconds expiry_interval = std::chrono::seconds(1);

  /// Live sessions at most; past it the least recently used idle session is expired to make
  /// room. 100,000 idle sessions take about 200 MB; unset (std::nullopt): no cap.
  std::optional<std::size_t> max_sessions = 100'000;

  /// Calls that may wait behind a running turn per session (busy policy `enqueue`); past it
  /// calls fail with `overloaded`. 64 absorbs bursts of retries and double clicks while
  /// bounding memory and wait time (CAF 0.17 mailboxes are unbounded, so the bound is ours).
  std::size_t max_queue_depth = 64;

  /// Largest accepted `Request::input`, in bytes (1 MiB), so one request cannot exhaust
  /// memory or history.
  std::size_t max_input_bytes = 1 << 20;

  /// Request ids (`Request::request_id`) a session remembers, each for at most
  /// `request_id_ttl`: a retry with a remembered id gets the committed outcome instead of
  /// running again. 64 covers every retry of a conversation's recent turns (retries
  /// concern the last few), and 24 hours covers a client that retries after its own
  /// restart or a night offline, as idempotency keys usually are kept. Older ones are
  /// forgotten first; a call still running is never forgotten. Zero: request ids are
  /// refused with invalid_request_id.
  std::size_t request_ids_kept = 64;
  std::chrono::milliseconds request_id_ttl = std::chrono::hours(24);

  /// Re-attach (`Runtime::attach`): each call keeps its last `events_kept` events (and
  /// about `event_bytes_kept` bytes of their data) and each session its last `calls_kept`
  /// calls for `calls_kept_for` after they end. 1,024 events hold a long streamed answer
  /// token by token, 256 KiB bound a call with large events, and a minute covers a client
  /// reconnecting after a dropped connection. `events_kept = 0` keeps nothing (attach then
  /// only follows what is still unread).
  std::size_t events_kept = 1024;
  std::size_t event_bytes_kept = 256 << 10;
  std::size_t calls_kept = 16;
  std::chrono::milliseconds calls_kept_for = std::chrono::minutes(1);

  /// Timeout for calls that set none. 5 minutes outlasts any reasonable LLM turn, and still
  /// frees a caller and its session from a handler that hangs.
  std::chrono::milliseconds default_timeout = std::chrono::minutes(5);

  /// How long the destructor lets running turns finish before ending them with
  /// `shutting_down` (`shutdown()` takes its own value).
  std::chrono::milliseconds shutdown_drain = std::chrono::seconds(5);

  /// Where sessions live when no actor holds them (see SessionStore). Null: the in-memory
  /// store, so an expired session's context comes back on its next call within this
  /// process. Set `store_path` (or a store of your own) for sessions that survive restarts.
  std::shared_ptr<SessionStore> store;

  /// When set and `store` is null: a SQLite store at this path (created if missing). The
  /// Runtime's constructor throws std::runtime_error when the file cannot be used.
  std::string store_path;

  /// When `postgres.conninfo` is set and `store` is null: a PostgreSQL store shared with other
  /// nodes (open_postgres_store), which leases each session to one node at a time. Takes
  /// precedence over `store_path`. The Runtime's constructor throws std::runtime_error when
  /// the database cannot be reached.
  PostgresOptions postgres;

  /// Where the runtime logs. Null: a logger with a null sink (nothing is written). Every
  /// line about a session starts with `[session id/call id]`.
  std::shared_ptr<spdlog::logger> logger;
};

} // namespace agentrt
