// The `llm-http` scenario: the `llm` workload end to end over real sockets. N sessions,
// one coroutine turn each, started at once; each turn streams a chat completion from
// agentrt-mock-llm (started here on a free loopback port, in its own process) through the
// example model client (Boost.Beast, one I/O thread). Only agentrt runs it: the `llm`
// scenario compares designs; this one shows the whole path, sockets and parsing included.
// Every answer must be exactly the mock's text.

#include "llm_http.hpp"

#include "llm_run.hpp"

#include "mock_llm/process.hpp"
#include "model/model_client.hpp"
#include "model/model_stream.hpp"

#include <malloc.h>

namespace bench {

namespace {

/// The mock's answer to `input` in `tokens` tokens (see examples/mock_llm).
std::string expected_answer(const std::string& input, int tokens) {
  std::istringstream words{"Mock answer to: " + input};
  std::string out;
  int n = 0;
  for (std::string w; n < tokens && words >> w; ++n)
    out += (n ? " " : "") + w;
  for (; n < tokens; ++n)
    out += " w" + std::to_string(n + 1);
  return out;
}

agentrt::Task<std::string> http_turn(agentrt::AsyncTurn& t, model::ModelClient* client) {
  std::vector<model::ChatMessage> messages{{"user", t.input()}};
  auto answer = co_await model::stream_reply(t, *client, std::move(messages));
  if (!answer)
    t.fail(answer.error().message);
  co_return answer ? *answer : std::string{};
}

nlohmann::json run_http(std::size_t n, int tokens, int token_ms, std::size_t workers) {
  std::vector<std::string> keys(n);
  std::vector<std::string> expected(n);
  for (std::size_t i = 0; i < n; ++i) {
    keys[i] = "s" + std::to_string(i);
    expected[i] = expected_answer(keys[i], tokens);
  }
  Run run{n, tokens, false};
  mock_llm::MockLlmProcess mock{MOCK_LLM, tokens, token_ms};
  model::ModelOptions mo;
  mo.url = mock.url();
  Sampler sampler;
  malloc_trim(0);
  auto threads0 = threads_now();
  auto rss0 = rss_bytes();
  model::ModelClient client{mo};
  agentrt::RuntimeConfig c;
  c.worker_threads = workers;
  c.max_sessions = std::nullopt;
  agentrt::Runtime rt{c};
  rt.register_handler("llm", [&client](agentrt::AsyncTurn& t) { return http_turn(t, &client); });
  return measure_run(run, n, keys, sampler, threads0, rss0, [&](std::size_t i, const std::string& key) {
    agentrt::Request r;
    r.agent = "llm";
    r.session_id = key;
    r.input = key;
    r.on_event = [&run, i](const agentrt::Event& e) {
      if (e.kind == agentrt::EventKind::chunk)
        run.chunk(i);
    };
    rt.invoke(std::move(r)).value().on_done([&run, &expected, i](const agentrt::Reply& reply) {
      run.finish(i, reply.ok() && reply.output == expected[i]);
    });
  });
}

} // namespace

std::vector<Result> llm_http(const Options& o) {
  auto sessions = o.pick(o.sessions, std::size_t{2'000}, std::size_t{20});
  int tokens = static_cast<int>(o.pick(o.tokens, std::int64_t{20}, std::int64_t{3}));
  int token_ms = static_cast<int>(o.pick(o.token_ms, std::int64_t{100}, std::int64_t{5}));
  auto workers = o.workers ? o.workers : cores();
  auto m = in_child([&] { return run_http(sessions, tokens, token_ms, workers); });
  Result r;
  r.scenario = "llm-http";
  r.system = "agentrt-coroutine";
  r.calls = sessions;
  r.workload = {{"sessions", sessions},
                {"tokens", tokens},
                {"token_ms", token_ms},
                {"workers", workers},
                {"model", "agentrt-mock-llm over HTTP/1.1 on loopback, one connection per turn"}};
  if (m.is_discarded() || m.empty()) {
    r.failed_calls = sessions;
    return {r};
  }
  double ideal = tokens * token_ms / 1000.0;
  double wall = m["wall_s"];
  r.seconds = wall;
  r.per_second = sessions / wall;
  r.failed_calls = m["failed"];
  r.extra = {{"sessions_run", sessions},
             {"wall_s", wall},
             {"ideal_s", ideal},
             {"vs_ideal", wall / ideal},
             {"threads", m["threads"]},
             {"rss_per_turn", m["rss_per_turn"]},
             {"ttft_p50_ms", m["ttft_p50_ms"]},
             {"ttft_p99_ms", m["ttft_p99_ms"]}};
  return {r};
}

} // namespace bench
