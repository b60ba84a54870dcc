#pragma once

// SseReader: splits a server-sent event stream, fed in arbitrary pieces, into the data of
// its events (an event's `data:` lines joined with "\n", ended by a blank line), and reads
// the text of an OpenAI-style streamed chat chunk. Lines end with LF or CRLF.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace model {

class SseReader {
public:
  /// Appends bytes and returns the data of the events they completed, in order. Other
  /// fields (event:, id:, retry:, comments) are skipped.
  std::vector<std::string> feed(std::string_view bytes);

  /// The stream ended: the data of an event that had no blank line after it, if any.
  std::optional<std::string> end();

private:
  std::string pending_;             // an incomplete last line
  std::optional<std::string> data_; // the data lines of the event being read
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

/// What a non-streamed chat completion (one JSON body) says: its message's text, or an
/// error.
Chunk read_completion(const std::string& body);

} // namespace model
