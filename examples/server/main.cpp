// agentrt-server: the HTTP/SSE server (agentrt::server) over one Runtime with the example
// agents: "assistant" (a coroutine agent that streams from a model, or from a built-in mock
// without one) and "echo" (instant).
//
//   agentrt-server [--port 8080] [--bind 127.0.0.1] [--llm-url URL] ...   (--help lists all;
//   every option is also an environment variable, e.g. AGENTRT_PORT)
//
// The first line on stdout is "listening on http://HOST:PORT"; logs go to stderr.
// SIGTERM/SIGINT drain: /ready turns 503, new calls are refused, running calls may finish
// for --drain-ms, the rest end with `shutting_down`, streams send their last event.

#include "common/demo_agents.hpp"
#include "model/model_client.hpp"
#include "server/options.hpp"

#include <agentrt/agentrt.hpp>
#include <agentrt/server/http_server.hpp>
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
  auto left = server.drain(opts->drain);
  // What still runs ends now with `shutting_down`; its streams send that last event.
  runtime->shutdown(std::chrono::milliseconds{0});
  server.stop(std::chrono::milliseconds{2'000});
  log->info("stopped ({} calls were still running at the end of the drain)", left);
  return 0;
}
