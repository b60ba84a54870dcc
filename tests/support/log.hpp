#pragma once

// Loggers for tests: a sink that counts lines containing a text, and one that runs a hook
// on every line (tests wait on what the runtime logs instead of sleeping).

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace agentrt_test {

/// Counts log lines that contain `needle`.
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
  explicit CountingSink(std::string needle) : needle_(std::move(needle)) {
  }
  int count() const {
    return count_.load();
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view line{msg.payload.data(), msg.payload.size()};
    if (line.find(needle_) != std::string_view::npos)
      count_.fetch_add(1);
  }
  void flush_() override {
  }

private:
  std::string needle_;
  std::atomic<int> count_{0};
};

/// Runs `on_line` for every log line.
class HookSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
  explicit HookSink(std::function<void(const std::string&)> on_line)
    : on_line_(std::move(on_line)) {
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    on_line_(std::string{msg.payload.data(), msg.payload.size()});
  }
  void flush_() override {
  }

private:
  std::function<void(const std::string&)> on_line_;
};

/// A logger at trace level writing to `sink`.
inline std::shared_ptr<spdlog::logger> logger_to(spdlog::sink_ptr sink) {
  auto log = std::make_shared<spdlog::logger>("test", std::move(sink));
  log->set_level(spdlog::level::trace);
  return log;
}

} // namespace agentrt_test
