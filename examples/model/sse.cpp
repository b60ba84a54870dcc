#include "model/sse.hpp"

#include <nlohmann/json.hpp>

namespace model {

std::vector<std::string> SseReader::feed(std::string_view bytes) {
  pending_.append(bytes);
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = pending_.find('\n', start); nl != std::string::npos;
       nl = pending_.find('\n', start)) {
    std::string_view line{pending_.data() + start, nl - start};
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.rfind("data:", 0) == 0) {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ')
        line.remove_prefix(1);
      out.emplace_back(line);
    }
    start = nl + 1;
  }
  pending_.erase(0, start);
  return out;
}

Chunk read_chunk(const std::string& payload) {
  Chunk c;
  if (payload == "[DONE]") {
    c.done = true;
    return c;
  }
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    c.error = "the model server sent a chunk that is not JSON: " + payload.substr(0, 200);
    return c;
  }
  if (auto e = j.find("error"); e != j.end()) {
    auto msg = e->is_object() ? e->value("message", e->dump()) : e->dump();
    c.error = "the model server reported an error: " + msg;
    return c;
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty())
    return c;
  auto& first = (*choices)[0];
  if (auto d = first.find("delta"); d != first.end() && d->is_object()) {
    auto content = d->find("content");
    if (content != d->end() && content->is_string())
      c.content = content->get<std::string>();
  }
  return c;
}

} // namespace model
