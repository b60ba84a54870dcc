#include "model/sse.hpp"

#include <nlohmann/json.hpp>

namespace model {

namespace {

/// The `error` object's message, whatever its shape.
std::string error_text(const nlohmann::json& e) {
  if (e.is_object()) {
    auto m = e.find("message");
    if (m != e.end() && m->is_string())
      return m->get<std::string>();
  }
  if (e.is_string())
    return e.get<std::string>();
  return e.dump();
}

/// The string at `key` of `j` when there is one.
std::optional<std::string> string_at(const nlohmann::json& j, const char* key) {
  if (!j.is_object())
    return std::nullopt;
  auto v = j.find(key);
  if (v == j.end() || !v->is_string())
    return std::nullopt;
  return v->get<std::string>();
}

/// Parses `text` as a JSON object, or says why not.
std::optional<nlohmann::json> object_of(const std::string& text, Chunk& c, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    c.error = std::string{"the model server sent "} + what + " that is not JSON: " + text.substr(0, 200);
    return std::nullopt;
  }
  if (auto e = j.find("error"); e != j.end()) {
    c.error = "the model server reported an error: " + error_text(*e);
    return std::nullopt;
  }
  return j;
}

/// The first choice of a completion, if it has one.
const nlohmann::json* first_choice(const nlohmann::json& j) {
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty())
    return nullptr;
  return &(*choices)[0];
}

} // namespace

std::vector<std::string> SseReader::feed(std::string_view bytes) {
  pending_.append(bytes);
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = pending_.find('\n', start); nl != std::string::npos;
       nl = pending_.find('\n', start)) {
    std::string_view line{pending_.data() + start, nl - start};
    start = nl + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty()) { // the blank line that ends an event
      if (data_)
        out.push_back(std::move(*data_));
      data_.reset();
      continue;
    }
    if (line.rfind("data:", 0) != 0)
      continue; // event:, id:, retry:, a comment
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ')
      line.remove_prefix(1);
    if (data_)
      data_->append("\n").append(line);
    else
      data_.emplace(line);
  }
  pending_.erase(0, start);
  return out;
}

std::optional<std::string> SseReader::end() {
  auto last = std::move(data_);
  data_.reset();
  return last;
}

Chunk read_chunk(const std::string& payload) {
  Chunk c;
  if (payload == "[DONE]") {
    c.done = true;
    return c;
  }
  auto j = object_of(payload, c, "a chunk");
  if (!j)
    return c;
  if (auto* first = first_choice(*j); first && first->is_object())
    if (auto d = first->find("delta"); d != first->end())
      c.content = string_at(*d, "content").value_or("");
  return c;
}

Chunk read_completion(const std::string& body) {
  Chunk c;
  auto j = object_of(body, c, "a completion");
  if (!j)
    return c;
  c.done = true;
  if (auto* first = first_choice(*j); first && first->is_object())
    if (auto m = first->find("message"); m != first->end())
      c.content = string_at(*m, "content").value_or("");
  return c;
}

} // namespace model
