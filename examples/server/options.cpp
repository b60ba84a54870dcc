#include "server/options.hpp"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <vector>

namespace server_program {

namespace {

struct Setting {
  const char* flag;
  const char* env;
  const char* help;
  std::function<bool(Options&, const std::string&)> set; ///< false: a bad value
};

bool number(const std::string& s, unsigned long long& v, unsigned long long max) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size() && v <= max;
}


std::function<bool(Options&, const std::string&)> size_of(
  std::function<void(Options&, unsigned long long)> put, unsigned long long min,
  unsigned long long max) {
  return [put, min, max](Options& o, const std::string& s) {
    unsigned long long v = 0;
    if (!number(s, v, max) || v < min)
      return false;
    put(o, v);
    return true;
  };
}

bool boolean(const std::string& s, bool& out) {
  if (s == "1" || s == "true" || s == "on" || s == "yes")
    return out = true, true;
  if (s == "0" || s == "false" || s == "off" || s == "no")
    return out = false, true;
  return false;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    auto item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ')
      item.erase(0, 1);
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty())
      out.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

using ms = std::chrono::milliseconds;

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
    {"--port", "AGENTRT_PORT", "HTTP port (0: a free one)",
     size_of([](Options& o, auto v) { o.server.port = static_cast<std::uint16_t>(v); }, 0, 65535)},
    {"--grpc-port", "AGENTRT_GRPC_PORT", "gRPC AgentService port (0: a free one; unset: no gRPC)",
     size_of([](Options& o, auto v) { o.grpc_port = static_cast<std::uint16_t>(v); }, 0, 65535)},
    {"--bind", "AGENTRT_BIND", "address to listen on, HTTP and gRPC (127.0.0.1)",
     [](Options& o, const std::string& s) { return !s.empty() && (o.server.bind_address = s, true); }},
    {"--io-threads", "AGENTRT_IO_THREADS", "I/O threads for every connection and stream (2)",
     size_of([](Options& o, auto v) { o.server.io_threads = v; }, 1, 64)},
    {"--workers", "AGENTRT_WORKERS", "actor worker threads (one per core)",
     size_of([](Options& o, auto v) { o.runtime.worker_threads = v; }, 1, 256)},
    {"--blocking-threads", "AGENTRT_BLOCKING_THREADS", "threads for blocking turns (16)",
     size_of([](Options& o, auto v) { o.runtime.blocking_threads = v; }, 1, 4096)},
    {"--store", "AGENTRT_STORE", "SQLite file for durable sessions (none: in memory)",
     [](Options& o, const std::string& s) { return o.runtime.store_path = s, true; }},
    {"--postgres", "AGENTRT_POSTGRES",
     "PostgreSQL conninfo: sessions shared with other nodes, leased to one at a time",
     [](Options& o, const std::string& s) { return o.runtime.postgres.conninfo = s, true; }},
    {"--node", "AGENTRT_NODE", "this node's name in session leases (host name and pid)",
     [](Options& o, const std::string& s) { return !s.empty() && (o.runtime.postgres.node = s, true); }},
    {"--advertise", "AGENTRT_ADVERTISE",
     "URL other nodes' clients are sent to for sessions this node serves (http://BIND:PORT)",
     [](Options& o, const std::string& s) {
       return !s.empty() && s.find_first_of(" ;<>") == std::string::npos
              && (o.runtime.postgres.address = s, true);
     }},
    {"--lease-ms", "AGENTRT_LEASE_MS",
     "how long a session's lease lasts unrenewed: a dead node's sessions wait that long (10000)",
     size_of([](Options& o, auto v) { o.runtime.postgres.lease = ms(v); }, 100, 3'600'000)},
    {"--idle-timeout-s", "AGENTRT_IDLE_TIMEOUT_S", "seconds before an idle session ends (900)",
     size_of([](Options& o, auto v) { o.runtime.idle_timeout = std::chrono::seconds(v); }, 1,
             100ull * 365 * 24 * 3600)},
    {"--max-input-bytes", "AGENTRT_MAX_INPUT_BYTES", "largest input of a call (1048576)",
     size_of([](Options& o, auto v) { o.runtime.max_input_bytes = v; }, 1, 1ull << 32)},
    {"--body-limit", "AGENTRT_BODY_LIMIT", "largest request body in bytes (input limit + 64 KiB)",
     size_of([](Options& o, auto v) { o.server.body_limit = v; }, 1, 1ull << 32)},
    {"--llm-url", "AGENTRT_LLM_URL", "OpenAI-compatible model server, e.g. http://127.0.0.1:8081/v1",
     [](Options& o, const std::string& s) { return o.llm_url = s, true; }},
    {"--allowed-origins", "AGENTRT_ALLOWED_ORIGINS", "comma-separated origins allowed cross-origin",
     [](Options& o, const std::string& s) { return o.server.allowed_origins = split(s), true; }},
    {"--allowed-hosts", "AGENTRT_ALLOWED_HOSTS",
     "host names served without a token besides IPs and localhost (comma-separated)",
     [](Options& o, const std::string& s) { return o.server.allowed_hosts = split(s), true; }},
    {"--token", "AGENTRT_TOKEN", "bearer token required on every route but health",
     [](Options& o, const std::string& s) { return o.server.token = s, true; }},
    {"--drain-ms", "AGENTRT_DRAIN_MS", "on SIGTERM, how long running calls may finish (10000)",
     size_of([](Options& o, auto v) { o.drain = ms(v); }, 0, 3'600'000)},
    {"--resume-grace-ms", "AGENTRT_RESUME_GRACE_MS",
     "how long a call whose stream dropped waits for its client to resume (10000)",
     size_of([](Options& o, auto v) { o.server.resume_grace = ms(v); }, 0, 3'600'000)},
    {"--keepalive-ms", "AGENTRT_KEEPALIVE_MS", "comment line on a quiet stream after (15000)",
     size_of([](Options& o, auto v) { o.server.keepalive = ms(v); }, 1, 3'600'000)},
    {"--log-format", "AGENTRT_LOG_FORMAT", "text or json",
     [](Options& o, const std::string& s) {
       return (s == "text" || s == "json") && (o.log_format = s, true);
     }},
    {"--log-level", "AGENTRT_LOG_LEVEL", "trace, debug, info, warn, error, off",
     [](Options& o, const std::string& s) {
       for (auto* l : {"trace", "debug", "info", "warn", "error", "off"})
         if (s == l)
           return o.log_level = s, true;
       return false;
     }},
    {"--access-log", "AGENTRT_ACCESS_LOG", "one log line per request: on or off (on)",
     [](Options& o, const std::string& s) { return boolean(s, o.server.access_log); }},
    {"--expose-errors", "AGENTRT_EXPOSE_ERRORS",
     "send agents' exception text to clients: on or off (off)",
     [](Options& o, const std::string& s) { return boolean(s, o.server.expose_errors); }},
    {"--chat-page", "AGENTRT_CHAT_PAGE", "serve the chat page at /: on or off (on)",
     [](Options& o, const std::string& s) { return boolean(s, o.server.chat_page); }},
  };
  return all;
}

} // namespace

std::string advertise_default(Options& o) {
  auto& pg = o.runtime.postgres;
  if (pg.conninfo.empty() || !pg.address.empty())
    return {};
  auto& host = o.server.bind_address;
  if (host == "0.0.0.0" || host == "::" || o.server.port == 0)
    return "--postgres needs --advertise (the URL clients are sent to for this node's "
           "sessions) when --bind is a wildcard or --port is 0";
  auto h = host.find(':') == std::string::npos ? host : "[" + host + "]";
  pg.address = "http://" + h + ":" + std::to_string(o.server.port);
  return {};
}

std::string usage() {
  std::string u = "usage: agentrt-server [options]   (each also an environment variable)\n";
  for (auto& s : settings()) {
    std::string flag = std::string{"  "} + s.flag + " / " + s.env;
    if (flag.size() < 50)
      flag.resize(50, ' ');
    u += flag + " " + s.help + "\n";
  }
  return u;
}

std::optional<Options> parse_options(int argc, char** argv, std::string& error, bool& help) {
  Options o;
  help = false;
  auto apply = [&](const Setting& s, const std::string& value, const std::string& from) {
    if (s.set(o, value))
      return true;
    error = from + ": bad value '" + value + "' (" + s.help + ")";
    return false;
  };
  for (auto& s : settings())
    if (const char* v = std::getenv(s.env); v != nullptr && !apply(s, v, s.env))
      return std::nullopt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help = true;
      error = usage();
      return std::nullopt;
    }
    std::string value;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      error = a + ": needs a value\n" + usage();
      return std::nullopt;
    }
    const Setting* found = nullptr;
    for (auto& s : settings())
      if (a == s.flag)
        found = &s;
    if (found == nullptr) {
      error = "unknown option " + a + "\n" + usage();
      return std::nullopt;
    }
    if (!apply(*found, value, a))
      return std::nullopt;
  }
  // A body carries the input plus a little JSON: follow the input limit unless set.
  bool body_set = std::getenv("AGENTRT_BODY_LIMIT") != nullptr;
  for (int i = 1; i < argc; ++i)
    body_set = body_set || std::string_view{argv[i]}.rfind("--body-limit", 0) == 0;
  if (!body_set)
    o.server.body_limit = o.runtime.max_input_bytes + 64 * 1024;
  return o;
}

} // namespace server_program
