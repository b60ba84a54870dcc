// agentrt-server: the HTTP/SSE server (agentrt::server) and, with --grpc-port, the gRPC
// AgentService (agentrt::grpc), over one Runtime with the example agents: "assistant" (a
// coroutine agent that streams from a model, or from a built-in mock without one), "echo"
// (instant), "echo-agent" and the tool "weather" (server/platform_agents.hpp).
//
//   agentrt-server [--port 8080] [--grpc-port 50051] [--bind 127.0.0.1] [--llm-url URL] ...
//   (--help lists all; every option is also an environment variable, e.g. AGENTRT_PORT)
//
// On stdout: "grpc listening on HOST:PORT" (with --grpc-port), then "listening on
// http://HOST:PORT" once both serve; logs go to stderr.
// SIGTERM/SIGINT drain: /ready turns 503, new calls are refused, running calls may finish
// for --drain-ms, the rest end with `shutting_down`, streams send their last event.

#include "common/demo_agents.hpp"
#include "model/model_client.hpp"
#include "server/options.hpp"
#include "server/platform_agents.hpp"

#include <agentrt/agentrt.hpp>
#include <agentrt/server/http_server.hpp>
#ifdef AGENTRT_WITH_GRPC
#include <agentrt/server/grpc_server.hpp>
#endif
#include <agentrt/server/json_log.hpp>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

namespace {

std::shared_ptr<spdlog::logger> make_logger(const server_program::Options& o) {
  auto log = std::make_shared<spdlog::logger>("agentrt-server",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (o.log_format == "json")
    log->set_formatter(agentrt::server::make_json_formatter());
  log->set_level(spdlog::level::from_str(o.log_level));
  return log;
}

} // namespace

int main(int argc, char** argv) {
  std::string error;
  bool help = false;
  auto opts = server_program::parse_options(argc, argv, error, help);
  if (!opts) {
    std::fprintf(help ? stdout : stderr, "%s%s", help ? "" : "agentrt-server: ", error.c_str());
    if (!help && error.back() != '\n')
      std::fputc('\n', stderr);
    return help ? 0 : 2;
  }

  // Signals are taken by one thread with sigwait, so stopping never runs in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto log = make_logger(*opts);
  std::unique_ptr<model::ModelClient> llm;
  if (!opts->llm_url.empty()) {
    model::ModelOptions m = model::ModelOptions::from_env().value_or(model::ModelOptions{});
    m.url = opts->llm_url;
    try {
      llm = std::make_unique<model::ModelClient>(m);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "agentrt-server: --llm-url: %s\n", e.what());
      return 2;
    }
  }

  if (auto why = server_program::advertise_default(*opts); !why.empty()) {
    std::fprintf(stderr, "agentrt-server: %s\n", why.c_str());
    return 2;
  }
  opts->runtime.logger = log;
  opts->server.logger = log;
  std::unique_ptr<agentrt::Runtime> runtime;
  try {
    runtime = std::make_unique<agentrt::Runtime>(opts->runtime);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentrt-server: %s\n", e.what());
    return 1;
  }
  runtime->register_handler("assistant", [client = llm.get()](agentrt::AsyncTurn& t) {
    return demo::assistant(t, client);
  });
  runtime->register_handler("echo", demo::echo);
  runtime->register_handler("echo-agent", server_program::echo_agent);
  runtime->register_tool("weather", server_program::weather);

#ifdef AGENTRT_WITH_GRPC
  std::unique_ptr<agentrt::server::GrpcServer> grpc;
  if (opts->grpc_port) {
    agentrt::server::GrpcConfig g;
    g.bind_address = opts->server.bind_address;
    g.port = *opts->grpc_port;
    g.max_message_bytes = opts->server.body_limit;
    g.expose_errors = opts->server.expose_errors;
    g.access_log = opts->server.access_log;
    g.logger = log;
    grpc = std::make_unique<agentrt::server::GrpcServer>(*runtime, g);
    try {
      grpc->start();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "agentrt-server: %s\n", e.what());
      return 1;
    }
    std::printf("grpc listening on %s:%u\n", opts->server.bind_address.c_str(),
                static_cast<unsigned>(grpc->port()));
  }
#else
  if (opts->grpc_port) {
    std::fprintf(stderr, "agentrt-server: --grpc-port: this build has no gRPC "
                         "(configure with -DAGENTRT_BUILD_GRPC=ON)\n");
    return 2;
  }
#endif

  agentrt::server::HttpServer server{*runtime, opts->server};
  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentrt-server: %s\n", e.what());
    return 1;
  }
  std::printf("listening on http://%s:%u\n", opts->server.bind_address.c_str(),
              static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("signal {}: draining for at most {} ms", sig, opts->drain.count());
  // Both front ends refuse new calls from now on; the running ones share the drain time.
  auto started = std::chrono::steady_clock::now();
#ifdef AGENTRT_WITH_GRPC
  if (grpc)
    grpc->drain(std::chrono::milliseconds{0});
#endif
  auto left = server.drain(opts->drain);
#ifdef AGENTRT_WITH_GRPC
  if (grpc) {
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
    left += grpc->drain(std::max(opts->drain - spent, std::chrono::milliseconds{0}));
  }
#endif
  // What still runs ends now with `shutting_down`; its streams send that last event.
  runtime->shutdown(std::chrono::milliseconds{0});
  server.stop(std::chrono::milliseconds{2'000});
#ifdef AGENTRT_WITH_GRPC
  if (grpc)
    grpc->stop(std::chrono::milliseconds{2'000});
#endif
  log->info("stopped ({} calls were still running at the end of the drain)", left);
  return 0;
}
