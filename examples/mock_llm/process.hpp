#pragma once

// MockLlmProcess: runs agentrt-mock-llm as a child process on a free loopback port (for
// tests and the benchmark), and kills it when destroyed.

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace mock_llm {

class MockLlmProcess {
public:
  /// Starts `program` with `tokens` tokens per answer, one per `interval_ms`, and waits for
  /// its "listening on URL" line. Throws if it does not start.
  MockLlmProcess(const char* program, int tokens, int interval_ms) {
    int out[2];
    if (pipe(out) != 0)
      throw std::runtime_error("pipe failed");
    auto t = std::to_string(tokens);
    auto i = std::to_string(interval_ms);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      execl(program, program, "--port", "0", "--tokens", t.c_str(), "--interval-ms", i.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c = 0;
    while (read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    close(out[0]);
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) != 0) {
      stop();
      throw std::runtime_error("the mock model server did not start: '" + line + "'");
    }
    url_ = line.substr(prefix.size());
  }

  ~MockLlmProcess() {
    stop();
  }

  MockLlmProcess(const MockLlmProcess&) = delete;
  MockLlmProcess& operator=(const MockLlmProcess&) = delete;

  /// "http://127.0.0.1:PORT/v1"
  const std::string& url() const {
    return url_;
  }

  /// Kills the server (clients in flight see their connections drop).
  void stop() {
    if (pid_ <= 0)
      return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
  std::string url_;
};

} // namespace mock_llm
