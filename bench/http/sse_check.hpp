#pragma once

// SseCheck: reads one server-sent event stream of agentrt-server, fed in arbitrary pieces,
// and checks that it is one whole call of one session:
//   - every event's data is a JSON object whose session_id is the stream's own,
//   - its call_id is the same on every event,
//   - its seq goes 1, 2, 3, ... without a gap,
//   - its `id:` line is "<call_id>:<seq>",
//   - nothing comes after the terminal event (completed, failed, cancelled),
//   - and, when the stream has ended, the last event was `completed`.
// It also keeps what a caller may check further: the number of `chunk` events and their
// data concatenated (the output a client would show), and the terminal event's data and
// turn.
// Lines end with LF, CRLF or CR. `:` comments (keepalives) are counted, `retry:` and unknown
// fields are skipped; a block with no `data:` line is no event.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sse_load {

class SseCheck {
public:
  explicit SseCheck(std::string session_id) : session_id_(std::move(session_id)) {
    // nop
  }

  /// Appends bytes; returns false once the stream broke a rule (see `error()`).
  bool feed(std::string_view bytes) {
    while (!bytes.empty() && error_.empty()) {
      if (after_cr_ && bytes.front() == '\n') // the LF of a CRLF
        bytes.remove_prefix(1);
      after_cr_ = false;
      auto eol = bytes.find_first_of("\r\n");
      if (eol == std::string_view::npos) {
        line_ += bytes;
        break;
      }
      after_cr_ = bytes[eol] == '\r';
      if (line_.empty()) {
        line(bytes.substr(0, eol));
      } else {
        line_ += bytes.substr(0, eol);
        line(line_);
        line_.clear();
      }
      bytes.remove_prefix(eol + 1);
    }
    return error_.empty();
  }

  /// The stream ended (the body is complete or the connection closed): false unless it
  /// ended right after its `completed` event.
  bool end() {
    if (!error_.empty())
      return false;
    if (!line_.empty() || has_data_)
      return fail("the stream ended inside an event");
    if (events_ == 0)
      return fail("the stream ended with no event");
    if (last_kind_ != "completed")
      return fail("the last event is " + last_kind_ + ": " + last_data_.substr(0, 160));
    return true;
  }

  /// Whether the terminal event was read (more data after it is an error).
  bool terminal_seen() const { return terminal_; }
  /// Events read so far.
  std::uint64_t events() const { return events_; }
  std::uint64_t comments() const { return comments_; }
  /// The `chunk` events so far, and their data concatenated.
  std::uint64_t chunk_events() const { return chunk_events_; }
  const std::string& content() const { return content_; }
  /// The terminal event's data (its `data` field) and turn (0 if it had none).
  const std::string& last_data() const { return last_data_; }
  std::uint64_t last_turn() const { return last_turn_; }
  const std::string& error() const { return error_; }

  /// Marks the stream failed for a reason found outside the stream's text.
  bool fail(std::string reason) {
    if (error_.empty())
      error_ = std::move(reason);
    return false;
  }

private:
  void line(std::string_view l) {
    if (l.empty())
      return dispatch();
    if (l.front() == ':') {
      ++comments_;
      return;
    }
    auto colon = l.find(':');
    auto name = l.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = l.substr(colon + 1);
      if (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
    }
    if (name == "data") {
      if (has_data_)
        data_ += '\n';
      data_ += value;
      has_data_ = true;
    } else if (name == "event") {
      event_ = value;
    } else if (name == "id") {
      id_ = value;
      has_id_ = true;
    }
  }

  void dispatch() {
    if (has_data_) {
      if (event_.empty())
        event_ = "message";
      check();
    }
    event_.clear();
    id_.clear();
    data_.clear();
    has_id_ = has_data_ = false;
  }

  /// The top-level fields of an event's data the checks need, read without building a
  /// JSON document (nlohmann's SAX interface).
  struct Fields {
    using json = nlohmann::json;
    int depth = 0;
    bool object = false;
    std::string field; // the last key at the top level
    std::optional<std::string> session_id, data;
    std::optional<std::uint64_t> call_id, seq, turn;

    void reset() {
      depth = 0;
      object = false;
      session_id.reset();
      data.reset();
      call_id.reset();
      seq.reset();
      turn.reset();
    }
    bool scalar() { return true; }
    bool null() { return scalar(); }
    bool boolean(bool) { return scalar(); }
    bool number_integer(json::number_integer_t) { return scalar(); }
    bool number_unsigned(json::number_unsigned_t v) {
      if (depth == 1 && field == "call_id")
        call_id = v;
      else if (depth == 1 && field == "seq")
        seq = v;
      else if (depth == 1 && field == "turn")
        turn = v;
      return true;
    }
    bool number_float(json::number_float_t, const std::string&) { return scalar(); }
    bool string(std::string& v) {
      if (depth == 1 && field == "session_id")
        session_id = std::move(v);
      else if (depth == 1 && field == "data")
        data = std::move(v);
      return true;
    }
    bool binary(json::binary_t&) { return scalar(); }
    bool start_object(std::size_t) {
      object = object || depth == 0;
      ++depth;
      return true;
    }
    bool end_object() { return --depth, true; }
    bool start_array(std::size_t) { return ++depth, true; }
    bool end_array() { return --depth, true; }
    bool key(std::string& k) {
      if (depth == 1)
        field = std::move(k);
      return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
      return false;
    }
  };

  void check() {
    const auto& kind = event_;
    if (terminal_)
      return (void)fail("an event (" + kind + ") after the terminal " + last_kind_);
    fields_.reset();
    if (!nlohmann::json::sax_parse(data_, &fields_) || !fields_.object)
      return (void)fail("the data of a " + kind + " event is not a JSON object");
    if (fields_.session_id != session_id_)
      return (void)fail("session_id " + fields_.session_id.value_or("missing")
                        + " on a stream of session " + session_id_);
    if (!fields_.call_id || !fields_.seq)
      return (void)fail("call_id or seq missing or not a number on a " + kind + " event");
    auto call_id = *fields_.call_id;
    if (call_id_ && *call_id_ != call_id)
      return (void)fail("call_id changed from " + std::to_string(*call_id_) + " to "
                        + std::to_string(call_id));
    call_id_ = call_id;
    auto seq = *fields_.seq;
    if (seq != events_ + 1)
      return (void)fail("seq gap: got " + std::to_string(seq) + ", expected "
                        + std::to_string(events_ + 1));
    auto want = std::to_string(call_id) + ":" + std::to_string(seq);
    if (!has_id_ || id_ != want)
      return (void)fail("id: " + (has_id_ ? "\"" + id_ + "\"" : std::string{"missing"})
                        + ", expected " + want);
    ++events_;
    last_kind_ = kind;
    if (kind == "chunk") {
      ++chunk_events_;
      content_ += fields_.data.value_or("");
    }
    terminal_ = kind == "completed" || kind == "failed" || kind == "cancelled";
    if (terminal_) {
      last_data_ = fields_.data.value_or(data_);
      last_turn_ = fields_.turn.value_or(0);
    }
  }

  std::string session_id_;
  std::string line_;
  bool after_cr_ = false;
  std::string event_;
  std::string id_;
  bool has_id_ = false;
  std::string data_;
  bool has_data_ = false;
  Fields fields_;
  std::optional<std::uint64_t> call_id_;
  std::uint64_t events_ = 0;
  std::uint64_t comments_ = 0;
  std::uint64_t chunk_events_ = 0;
  std::string content_;
  std::uint64_t last_turn_ = 0;
  std::string last_kind_;
  std::string last_data_;
  bool terminal_ = false;
  std::string error_;
};

} // namespace sse_load
