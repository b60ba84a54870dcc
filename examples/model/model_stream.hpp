#pragma once

// ModelStream: one streamed completion awaited from a coroutine turn.
//
//   model::ModelStream reply{client, messages};
//   for (;;) {
//     auto text = co_await reply.next();          // Result<std::optional<std::string>>
//     if (!text) co_return ...;                    // the model failed, or the turn stopped
//     if (!*text) break;                           // the completion ended
//     t.emit(**text);
//   }
//
// The client's I/O thread hands each piece of text to the stream; `next()` resumes the turn
// on its session with everything that arrived since the last `next()`. When the turn is
// cancelled or times out, the pending `next()` fails with that error at once; destroying
// the stream (the coroutine's locals go when the turn ends) closes the connection.

#include "model/model_client.hpp"

#include <agentrt/await.hpp>
#include <agentrt/errors.hpp>
#include <agentrt/turn.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace model {

class ModelStream {
public:
  /// Starts the completion at once. Throws what ModelClient::start throws.
  ModelStream(ModelClient& client, std::vector<ChatMessage> messages,
              std::optional<int> max_tokens = std::nullopt)
    : state_(std::make_shared<State>()) {
    cancel_ = client.start(std::move(messages), state_, max_tokens);
  }

  ~ModelStream() {
    if (cancel_)
      cancel_();
  }

  ModelStream(const ModelStream&) = delete;
  ModelStream& operator=(const ModelStream&) = delete;

  /// Awaits more text: the text that arrived since the last call (never empty), nothing once
  /// the completion has ended, or an Error: `agent_failed` with the client's message when
  /// the request failed, or the turn's own error when it was stopped.
  auto next() {
    auto start = [state = state_](agentrt::Completion<std::optional<std::string>> done) {
      state->wait(std::move(done));
    };
    return agentrt::wait_for<std::optional<std::string>>(std::move(start));
  }

private:
  using Waiter = agentrt::Completion<std::optional<std::string>>;

  /// What the client's thread and the turn share.
  class State final : public StreamSink {
  public:
    void on_text(std::string text) override {
      std::unique_lock l{mu_};
      text_ += text;
      hand_over(l);
    }

    void on_end(std::optional<std::string> error) override {
      std::unique_lock l{mu_};
      ended_ = true;
      error_ = std::move(error);
      hand_over(l);
    }

    void wait(Waiter done) {
      std::unique_lock l{mu_};
      waiter_.emplace(std::move(done));
      hand_over(l);
    }

  private:
    /// Completes the waiter, if there is one and something to give it (outside the lock:
    /// completing resumes the turn elsewhere, never here, but keeps the lock short).
    void hand_over(std::unique_lock<std::mutex>& l) {
      if (!waiter_ || (text_.empty() && !ended_))
        return;
      auto w = std::move(*waiter_);
      waiter_.reset();
      if (!text_.empty()) {
        auto text = std::move(text_);
        text_.clear();
        l.unlock();
        w(std::optional<std::string>{std::move(text)});
      } else if (error_) {
        auto e = *error_;
        l.unlock();
        w.fail(agentrt::Error{agentrt::errc::agent_failed, std::move(e)});
      } else {
        l.unlock();
        w(std::optional<std::string>{});
      }
    }

    std::mutex mu_;
    std::string text_;
    bool ended_ = false;
    std::optional<std::string> error_;
    std::optional<Waiter> waiter_;
  };

  std::shared_ptr<State> state_;
  std::function<void()> cancel_;
};

/// Streams a completion into the turn (each piece becomes a `chunk` event) and returns the
/// whole text, or the error that ended it.
inline agentrt::Task<agentrt::Result<std::string>> stream_reply(agentrt::TurnBase& t,
                                                                 ModelClient& client,
                                                                 std::vector<ChatMessage> messages) {
  ModelStream reply{client, std::move(messages)};
  std::string all;
  for (;;) {
    auto text = co_await reply.next();
    if (!text)
      co_return text.error();
    if (!*text)
      co_return all;
    t.emit(**text);
    all += **text;
  }
}

} // namespace model
