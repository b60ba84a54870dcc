#pragma once

// ModelClient: an asynchronous client for OpenAI-compatible chat completions that stream
// (`POST {base}/chat/completions` with `"stream": true`, answered with server-sent events),
// on Boost.Beast. One client owns one I/O thread that runs every request it starts; a
// request holds a socket and a few buffers, never a thread. Any server speaking the API
// works: llama.cpp's server, Ollama, vLLM, or examples/mock_llm.
//
// The raw interface is callbacks on the client's I/O thread (StreamSink). A coroutine turn
// uses ModelStream (model_stream.hpp) on top of it.
//
// Thread-safety: `start` may be called from any thread; a cancel function too, any number
// of times. Destroying the client ends every request in flight (their sinks hear
// "the model client stopped") and joins its thread: do not destroy it from a sink.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace model {

struct ModelOptions {
  /// Base URL, e.g. "http://127.0.0.1:8080/v1".
  std::string url;
  /// The `model` field of each request.
  std::string model = "default";
  /// Sent as `Authorization: Bearer ...` when set.
  std::string api_key;
  /// Connecting must finish within this (resolving a name is not bounded by it: use an
  /// address or a name the system resolves locally).
  std::chrono::milliseconds connect_timeout{5000};
  /// The server must send something at least this often while it streams.
  std::chrono::milliseconds idle_timeout{60000};

  /// Options from the environment: AGENTRT_LLM_URL (unset or empty: no model),
  /// AGENTRT_LLM_MODEL, AGENTRT_LLM_API_KEY.
  static std::optional<ModelOptions> from_env();
};

struct ChatMessage {
  std::string role; // "system", "user", "assistant"
  std::string content;
};

/// Receives one completion, on the client's I/O thread: `on_text` for each piece of text in
/// order, then `on_end` exactly once (no error: the server sent [DONE] or closed the stream
/// after its last chunk). Both must be quick: they run on the thread of every request.
class StreamSink {
public:
  virtual ~StreamSink() = default;
  virtual void on_text(std::string text) = 0;
  virtual void on_end(std::optional<std::string> error) = 0;
};

class ModelClient {
public:
  /// Throws std::invalid_argument when the URL is not one the client can use.
  explicit ModelClient(ModelOptions options);
  ~ModelClient();

  ModelClient(const ModelClient&) = delete;
  ModelClient& operator=(const ModelClient&) = delete;

  /// Starts one streamed completion of `messages`. The returned function cancels it: the
  /// connection is closed and the sink hears "cancelled" unless it already ended.
  std::function<void()> start(std::vector<ChatMessage> messages, std::shared_ptr<StreamSink> sink,
                              std::optional<int> max_tokens = std::nullopt);

  const ModelOptions& options() const noexcept;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace model
