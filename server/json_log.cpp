#include <agentrt/server/json_log.hpp>

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace agentrt::server {

namespace {

void escaped(spdlog::memory_buf_t& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '"': out.append(std::string_view{"\\\""}); break;
      case '\\': out.append(std::string_view{"\\\\"}); break;
      case '\n': out.append(std::string_view{"\\n"}); break;
      case '\r': out.append(std::string_view{"\\r"}); break;
      case '\t': out.append(std::string_view{"\\t"}); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char u[8];
          std::snprintf(u, sizeof u, "\\u%04x", c);
          out.append(std::string_view{u});
        } else {
          out.push_back(c);
        }
    }
  }
}

class JsonFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) override {
    auto t = std::chrono::system_clock::to_time_t(msg.time);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                .count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[80];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    out.append(std::string_view{"{\"ts\":\""});
    out.append(std::string_view{ts});
    out.append(std::string_view{"\",\"level\":\""});
    auto level = spdlog::level::to_string_view(msg.level);
    out.append(level.data(), level.data() + level.size());
    out.append(std::string_view{"\",\"logger\":\""});
    escaped(out, std::string_view{msg.logger_name.data(), msg.logger_name.size()});
    out.append(std::string_view{"\",\"msg\":\""});
    escaped(out, std::string_view{msg.payload.data(), msg.payload.size()});
    out.append(std::string_view{"\"}\n"});
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

} // namespace

std::unique_ptr<spdlog::formatter> make_json_formatter() {
  return std::make_unique<JsonFormatter>();
}

} // namespace agentrt::server
