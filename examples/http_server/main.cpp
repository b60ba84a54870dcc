// agentrt-http: an HTTP/JSON + Server-Sent Events server that embeds one agentrt Runtime
// with the example agents ("assistant", a coroutine agent that streams from a model;
// "echo", instant).
//
//   agentrt-http [--host 127.0.0.1] [--port 8080] [--threads 64] [--max-input-bytes N]
//
// The assistant streams from the OpenAI-compatible server named by AGENTRT_LLM_URL (see
// examples/model), and from a built-in mock when it is unset.
// --port 0 picks a free port. The first line on stdout is "listening on http://HOST:PORT".
// SIGINT/SIGTERM stop the server and shut the runtime down (running turns may finish).

#include "common/demo_agents.hpp"
#include "http_server/api.hpp"
#include "model/model_client.hpp"

#include <agentrt/agentrt.hpp>

#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t threads = 64;
  std::size_t max_input_bytes = 1 << 20;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: agentrt-http [--host ADDR] [--port N] [--threads N] "
               "[--max-input-bytes N]\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(2);
      return argv[++i];
    };
    try {
      if (a == "--host")
        o.host = value();
      else if (a == "--port")
        o.port = std::stoi(value());
      else if (a == "--threads")
        o.threads = std::stoul(value());
      else if (a == "--max-input-bytes")
        o.max_input_bytes = std::stoul(value());
      else if (a == "--help" || a == "-h")
        usage(0);
      else
        usage(2);
    } catch (const std::logic_error&) {
      usage(2);
    }
  }
  if (o.port < 0 || o.port > 65535 || o.threads == 0)
    usage(2);
  return o;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);

  // Signals are taken by one thread with sigwait, so stopping never runs in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<model::ModelClient> llm;
  if (auto options = model::ModelOptions::from_env()) {
    try {
      llm = std::make_unique<model::ModelClient>(*options);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "agentrt-http: AGENTRT_LLM_URL: %s\n", e.what());
      return 2;
    }
  }

  agentrt::RuntimeConfig cfg;
  cfg.max_input_bytes = opts.max_input_bytes;
  agentrt::Runtime runtime{cfg};
  runtime.register_handler("assistant", [client = llm.get()](agentrt::AsyncTurn& t) {
    return demo::assistant(t, client);
  });
  runtime.register_handler("echo", demo::echo);

  httplib::Server server;
  auto threads = opts.threads;
  // Each open stream holds a server thread for its whole life.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  agentrt_http::install_routes(server, runtime);
  // Refuse oversized bodies before reading them (413, answered as JSON by the error handler).
  server.set_payload_max_length(opts.max_input_bytes + agentrt_http::json_overhead);

  int port = opts.port;
  if (port == 0) {
    port = server.bind_to_any_port(opts.host);
  } else if (!server.bind_to_port(opts.host, port)) {
    port = -1;
  }
  if (port < 0) {
    std::fprintf(stderr, "agentrt-http: cannot listen on %s:%d\n", opts.host.c_str(), opts.port);
    return 1;
  }
  std::printf("listening on http://%s:%d\n", opts.host.c_str(), port);
  std::fflush(stdout);

  std::thread stopper{[&] {
    int sig = 0;
    sigwait(&signals, &sig);
    // The runtime first: new calls get 503, queued ones fail, running turns may finish for
    // 5 s and every stream sends its last event; then the server stops (its workers, no
    // longer held by calls, can be joined).
    runtime.shutdown(std::chrono::seconds(5));
    while (!server.is_running()) // a signal that came before listening began
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server.stop();
  }};
  server.listen_after_bind();
  stopper.join();
  return 0;
}
