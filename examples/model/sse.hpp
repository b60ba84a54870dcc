#pragma once

// SseReader: splits a server-sent event stream, fed in arbitrary pieces, into the payloads
// of its `data:` lines, and reads the text of an OpenAI-style streamed chat chunk.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace model {

class SseReader {
public:
  /// Appends bytes and returns the `data:` payloads of the lines they completed, in order.
  /// Other fields (event:, id:, comments) are skipped.
  std::vector<std::string> feed(std::string_view bytes);

private:
  std::string pending_; // an incomplete last line
};

/// What one `data:` payload of a chat-completions stream says.
struct Chunk {
  /// The text it adds (may be empty: role-only or finish chunks).
  std::string content;
  /// True for the final `[DONE]`.
  bool done = false;
  /// Set when the payload is not a chunk (bad JSON, or an `error` object from the server).
  std::optional<std::string> error;
};

Chunk read_chunk(const std::string& payload);

} // namespace model
