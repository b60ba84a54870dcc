// Built against an installed agentrt::server: serves a Runtime and asks it for /health over
// a plain socket.
#include <agentrt/agentrt.hpp>
#include <agentrt/server/http_server.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main() {
  agentrt::Runtime rt;
  rt.register_handler("echo", [](agentrt::Turn& t) { return t.input(); });
  agentrt::server::ServerConfig cfg;
  cfg.port = 0;
  agentrt::server::HttpServer server{rt, cfg};
  server.start();

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(server.port());
  inet_pton(AF_INET, "127.0.0.1", &at.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0)
    return std::perror("connect"), 1;
  std::string ask = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (write(fd, ask.data(), ask.size()) != static_cast<ssize_t>(ask.size()))
    return std::perror("write"), 1;
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    answer.append(buf, static_cast<std::size_t>(n));
  close(fd);
  server.stop();
  if (answer.rfind("HTTP/1.1 200 OK", 0) != 0 || answer.find(R"({"status":"ok"})") == std::string::npos) {
    std::fprintf(stderr, "unexpected answer: %s\n", answer.c_str());
    return 1;
  }
  std::puts("server: /health ok");
  return 0;
}
