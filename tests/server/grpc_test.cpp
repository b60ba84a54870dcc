// The gRPC AgentService from a C++ client: every rpc, every status the contract names, the
// session id on every answer, chunk and header, cancels and deadlines reaching the call, and
// drain and stop. A Runtime and a GrpcServer in this process on a free loopback port; the
// client is the generated stub over a real channel. Every test body runs under a time limit.

#include "support/calls.hpp"
#include "support/config.hpp"
#include "support/log.hpp"
#include "support/time_limit.hpp"

#include "agent_platform.grpc.pb.h"

#include <agentrt/agentrt.hpp>
#include <agentrt/server/grpc_server.hpp>

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::Gate;
using agentrt_test::run_with_time_limit;
namespace pb = agent_platform;

namespace {

/// Tools and agents whose behaviour each test steers.
struct Steering {
  Gate gate;                         // the blocker and slow_tool wait here
  std::atomic<int> stopped{0};       // how many of them saw their stop token
};

void register_all(Runtime& rt, const std::shared_ptr<Steering>& s) {
  rt.register_handler("counter", [](Turn& t) {
    t.emit("counting");
    return agentrt_test::counter(t);
  });
  rt.register_handler("quiet", [](Turn&) { return std::string{"the whole answer"}; });
  rt.register_handler("params", [](Turn& t) {
    std::string out;
    for (auto& [k, v] : t.params())
      out += k + "=" + v + ";";
    return out;
  });
  rt.register_handler("thrower", [](Turn&) -> std::string {
    throw std::runtime_error("secret detail");
  });
  AgentOptions blocking;
  blocking.blocking = true;
  rt.register_handler(
    "blocker",
    [s](Turn& t) {
      t.emit("waiting");
      s->gate.arrived();
      if (!s->gate.wait(t.stop_token())) {
        s->stopped.fetch_add(1);
        return std::string{"stopped"};
      }
      return std::string{"opened"};
    },
    blocking);
  rt.register_handler(
    "flood",
    [s](Turn& t) {
      for (int i = 0; i < 2000 && !t.stop_requested(); ++i)
        t.emit(std::string(64 * 1024, 'x'));
      if (t.stop_requested())
        s->stopped.fetch_add(1);
      return std::string{"flooded"};
    },
    blocking);
  rt.register_tool("echo_tool", [](const ToolRequest& r) -> ToolResult {
    return r.session_id + "|" + r.operation + "|" + r.arguments + "|" + r.agent;
  });
  rt.register_tool("failing_tool", [](const ToolRequest&) -> ToolResult {
    return Error{errc::tool_failed, "no luck"};
  });
  ToolOptions slow;
  slow.blocking = true;
  rt.register_tool(
    "slow_tool",
    [s](const ToolRequest& r) -> ToolResult {
      s->gate.arrived();
      if (!s->gate.wait(r.stop)) {
        s->stopped.fetch_add(1);
        return Error{errc::tool_failed, "stopped"};
      }
      return std::string{"done"};
    },
    slow);
}

/// A Runtime with the test agents behind a GrpcServer on a free port, and a client.
struct Served {
  explicit Served(RuntimeConfig rc = agentrt_test::test_config(), server::GrpcConfig gc = {})
    : steering(std::make_shared<Steering>()), runtime(std::move(rc)) {
    register_all(runtime, steering);
    gc.port = 0;
    grpc = std::make_unique<server::GrpcServer>(runtime, gc);
    grpc->start();
    channel = ::grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc->port()),
                                    ::grpc::InsecureChannelCredentials());
    stub = pb::AgentService::NewStub(channel);
  }

  std::shared_ptr<Steering> steering;
  Runtime runtime;
  std::unique_ptr<server::GrpcServer> grpc;
  std::shared_ptr<::grpc::Channel> channel;
  std::unique_ptr<pb::AgentService::Stub> stub;
};

/// A client context with a deadline, so no rpc can wait forever.
std::unique_ptr<::grpc::ClientContext> context(std::chrono::milliseconds deadline = 10s) {
  auto c = std::make_unique<::grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + deadline);
  return c;
}

pb::TaskRequest task(std::string agent, std::string input, std::string session = {}) {
  pb::TaskRequest t;
  t.set_agent_id(std::move(agent));
  t.set_input(std::move(input));
  t.set_session_id(std::move(session));
  return t;
}

std::string header(const std::multimap<::grpc::string_ref, ::grpc::string_ref>& md,
                   const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? std::string{"<none>"} : std::string{it->second.data(), it->second.size()};
}

struct Unary {
  ::grpc::Status status;
  pb::TaskResponse response;
  std::string session_header;
  std::string error_code;
};

Unary execute(Served& s, const pb::TaskRequest& t, std::chrono::milliseconds deadline = 10s) {
  auto c = context(deadline);
  Unary u;
  u.status = s.stub->ExecuteTask(c.get(), t, &u.response);
  u.session_header = header(c->GetServerInitialMetadata(), "x-session-id");
  u.error_code = header(c->GetServerTrailingMetadata(), "agentrt-error-code");
  return u;
}

struct Streamed {
  ::grpc::Status status;
  std::vector<pb::TaskChunk> chunks;
  std::string session_header;
  std::string error_code;
};

Streamed stream(Served& s, const pb::TaskRequest& t) {
  auto c = context();
  Streamed out;
  auto reader = s.stub->ExecuteTaskStream(c.get(), t);
  pb::TaskChunk chunk;
  while (reader->Read(&chunk))
    out.chunks.push_back(chunk);
  out.status = reader->Finish();
  out.session_header = header(c->GetServerInitialMetadata(), "x-session-id");
  out.error_code = header(c->GetServerTrailingMetadata(), "agentrt-error-code");
  return out;
}

std::vector<std::string> kinds(const std::vector<pb::TaskChunk>& chunks) {
  std::vector<std::string> out;
  for (auto& c : chunks)
    out.push_back(c.kind());
  return out;
}

} // namespace

TEST_CASE("ExecuteTask runs in the named session, keeps its context and names it everywhere",
          "[grpc]") {
  run_with_time_limit(60s, "unary in a session", [] {
    Served s;
    auto t = task("counter", "one", "user-1");
    (*t.mutable_parameters())["lang"] = "en";
    t.set_task_id("task-a");
    auto first = execute(s, t);
    REQUIRE(first.status.ok());
    CHECK(first.response.output() == "n=1");
    CHECK(first.response.success());
    CHECK(first.response.error().empty());
    CHECK(first.response.error_code().empty());
    CHECK(first.response.task_id() == "task-a");
    CHECK(first.response.session_id() == "user-1");
    CHECK(first.response.turn() == 1);
    CHECK(first.session_header == "user-1");
    auto& md = first.response.metadata();
    CHECK(md.at("session_id") == "user-1");
    CHECK(md.at("agent_id") == "counter");
    CHECK(md.at("task_number") == "1");
    CHECK(md.at("replayed") == "false");
    CHECK(md.at("processed_at").size() == 24); // 2026-11-30T21:47:31.042Z
    CHECK(md.at("processed_at").back() == 'Z');
    CHECK(md.size() == 6);

    auto second = execute(s, task("counter", "two", "user-1"));
    REQUIRE(second.status.ok());
    CHECK(second.response.output() == "n=2");
    CHECK(second.response.turn() == 2);
    CHECK(second.response.metadata().at("task_number") == "2");
    // Another session has its own context.
    CHECK(execute(s, task("counter", "x", "user-2")).response.output() == "n=1");
  });
}

TEST_CASE("a one-shot task gets a minted session id on the answer and the header", "[grpc]") {
  run_with_time_limit(60s, "one-shot", [] {
    Served s;
    auto a = execute(s, task("counter", "x"));
    auto b = execute(s, task("counter", "x"));
    REQUIRE(a.status.ok());
    REQUIRE(b.status.ok());
    CHECK(a.response.session_id().size() == 36);
    CHECK(a.response.session_id() != b.response.session_id());
    CHECK(a.session_header == a.response.session_id());
    CHECK(a.response.metadata().at("session_id") == a.response.session_id());
    CHECK(a.response.output() == "n=1");
    CHECK(b.response.output() == "n=1"); // a one-shot session keeps nothing
  });
}

TEST_CASE("the x-session-id header names the session when the field is empty", "[grpc]") {
  run_with_time_limit(60s, "header session", [] {
    Served s;
    auto c = context();
    c->AddMetadata("x-session-id", "from-header");
    pb::TaskResponse r;
    auto status = s.stub->ExecuteTask(c.get(), task("counter", "x"), &r);
    REQUIRE(status.ok());
    CHECK(r.session_id() == "from-header");
    CHECK(execute(s, task("counter", "y", "from-header")).response.output() == "n=2");
  });
}

TEST_CASE("a task retried with its task_id replays the committed turn", "[grpc]") {
  run_with_time_limit(60s, "task id retry", [] {
    Served s;
    auto t = task("counter", "once", "retry-1");
    t.set_task_id("req-1");
    auto first = execute(s, t);
    auto again = execute(s, t);
    REQUIRE(first.status.ok());
    REQUIRE(again.status.ok());
    CHECK(again.response.output() == "n=1");
    CHECK(again.response.turn() == 1);
    CHECK(again.response.metadata().at("replayed") == "true");
    CHECK(first.response.metadata().at("replayed") == "false");
    CHECK(execute(s, task("counter", "next", "retry-1")).response.output() == "n=2");
    // The same id with another input is a misuse, refused.
    t.set_input("different");
    auto reused = execute(s, t);
    CHECK(reused.status.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(reused.error_code == "request_id_reused");
  });
}

TEST_CASE("bad tasks are refused with their status, code name and no chunk", "[grpc]") {
  run_with_time_limit(60s, "refusals", [] {
    RuntimeConfig rc = agentrt_test::test_config();
    rc.max_input_bytes = 16;
    Served s{rc};
    struct Case {
      const char* what;
      pb::TaskRequest request;
      ::grpc::StatusCode code;
      const char* name;
    };
    std::vector<Case> cases;
    cases.push_back({"no agent", task("", "x", "s"), ::grpc::StatusCode::INVALID_ARGUMENT,
                     "invalid_argument"});
    cases.push_back({"unknown agent", task("nope", "x", "s"), ::grpc::StatusCode::NOT_FOUND,
                     "unknown_agent"});
    cases.push_back({"bad session", task("counter", "x", "bad id!"),
                     ::grpc::StatusCode::INVALID_ARGUMENT, "invalid_session_id"});
    cases.push_back({"input too large", task("counter", std::string(17, 'x'), "s"),
                     ::grpc::StatusCode::INVALID_ARGUMENT, "input_too_large"});
    auto busy = task("counter", "x", "s");
    busy.set_on_busy("sometimes");
    cases.push_back({"bad on_busy", busy, ::grpc::StatusCode::INVALID_ARGUMENT, "invalid_argument"});
    auto tools = task("counter", "x", "s");
    tools.add_tool_ids("echo_tool");
    tools.add_tool_ids("nope");
    cases.push_back({"unknown tool id", tools, ::grpc::StatusCode::NOT_FOUND, "unknown_tool"});
    auto clash = task("params", "x", "s");
    clash.add_tool_ids("echo_tool");
    (*clash.mutable_parameters())["tool_ids"] = "mine";
    cases.push_back({"tool_ids twice", clash, ::grpc::StatusCode::INVALID_ARGUMENT,
                     "invalid_argument"});
    auto bad_id = task("counter", "x", "s");
    bad_id.set_task_id("no spaces");
    cases.push_back({"bad task id", bad_id, ::grpc::StatusCode::INVALID_ARGUMENT,
                     "invalid_request_id"});
    for (auto& c : cases) {
      INFO(c.what);
      auto u = execute(s, c.request);
      CHECK(u.status.error_code() == c.code);
      CHECK(u.error_code == c.name);
      CHECK_FALSE(u.status.error_message().empty());
      auto st = stream(s, c.request);
      CHECK(st.status.error_code() == c.code);
      CHECK(st.error_code == c.name);
      CHECK(st.chunks.empty());
    }
    // Nothing ran: the session "s" was never created.
    CHECK(s.runtime.stats().activations == 0);
    CHECK(s.runtime.stats().turns_completed == 0);
    CHECK(execute(s, task("counter", "x", "s")).response.output() == "n=1");
  });
}

TEST_CASE("a header that contradicts session_id is refused", "[grpc]") {
  run_with_time_limit(60s, "header clash", [] {
    Served s;
    auto c = context();
    c->AddMetadata("x-session-id", "one");
    pb::TaskResponse r;
    auto status = s.stub->ExecuteTask(c.get(), task("counter", "x", "two"), &r);
    CHECK(status.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(header(c->GetServerTrailingMetadata(), "agentrt-error-code") == "invalid_argument");
  });
}

TEST_CASE("tool_ids reach the turn as the tool_ids param, with the parameters", "[grpc]") {
  run_with_time_limit(60s, "tool ids", [] {
    Served s;
    auto t = task("params", "x", "p");
    (*t.mutable_parameters())["a"] = "1";
    t.add_tool_ids("echo_tool");
    t.add_tool_ids("failing_tool");
    auto u = execute(s, t);
    REQUIRE(u.status.ok());
    CHECK(u.response.output() == "a=1;tool_ids=echo_tool,failing_tool;");
  });
}

TEST_CASE("a busy session: reject is ABORTED, a full queue RESOURCE_EXHAUSTED", "[grpc]") {
  run_with_time_limit(60s, "busy", [] {
    RuntimeConfig rc = agentrt_test::test_config();
    rc.max_queue_depth = 1;
    Served s{rc};
    auto running = std::async(std::launch::async, [&] { return execute(s, task("blocker", "a", "b")); });
    s.steering->gate.wait_arrivals(1);
    auto reject = task("blocker", "r", "b");
    reject.set_on_busy("reject");
    auto refused = execute(s, reject);
    CHECK(refused.status.error_code() == ::grpc::StatusCode::ABORTED);
    CHECK(refused.error_code == "session_busy");
    CHECK(refused.session_header == "b");
    // A stream that reached the session has its final chunk before the status.
    auto st = stream(s, reject);
    CHECK(st.status.error_code() == ::grpc::StatusCode::ABORTED);
    REQUIRE(st.chunks.size() == 1);
    CHECK(st.chunks[0].is_final());
    CHECK(st.chunks[0].kind() == "failed");
    CHECK(st.chunks[0].error_code() == "session_busy");
    CHECK(st.chunks[0].session_id() == "b");
    CHECK_FALSE(st.chunks[0].success());

    // (A session is agent type + id: the queue is blocker/b's.)
    auto queued = std::async(std::launch::async, [&] { return execute(s, task("blocker", "q", "b")); });
    agentrt_test::eventually([&] { return s.runtime.stats().queued_calls == 1; });
    auto overloaded = execute(s, task("blocker", "o", "b"));
    CHECK(overloaded.status.error_code() == ::grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(overloaded.error_code == "overloaded");
    s.steering->gate.open();
    CHECK(running.get().response.output() == "opened");
    CHECK(queued.get().response.output() == "opened");
  });
}

TEST_CASE("a task-level failure is success=false in an OK answer, its text hidden unless exposed",
          "[grpc]") {
  run_with_time_limit(60s, "task failure", [] {
    {
      Served s;
      auto u = execute(s, task("thrower", "x", "f"));
      REQUIRE(u.status.ok());
      CHECK_FALSE(u.response.success());
      CHECK(u.response.error_code() == "agent_failed");
      auto call = u.response.metadata().at("call_id");
      CHECK(u.response.error() == "the agent failed; the server log has the details (call " + call + ")");
      CHECK(u.response.session_id() == "f");
      auto st = stream(s, task("thrower", "x", "f"));
      REQUIRE(st.status.ok());
      CHECK(kinds(st.chunks) == std::vector<std::string>{"started", "failed"});
      CHECK(st.chunks.back().error_code() == "agent_failed");
      CHECK_FALSE(st.chunks.back().success());
    }
    server::GrpcConfig exposed;
    exposed.expose_errors = true;
    Served s{agentrt_test::test_config(), exposed};
    auto u = execute(s, task("thrower", "x", "f"));
    CHECK(u.response.error() == "secret detail");
  });
}

TEST_CASE("a deadline ends the task with DEADLINE_EXCEEDED and the session stays usable",
          "[grpc]") {
  run_with_time_limit(60s, "deadline", [] {
    Served s;
    auto u = execute(s, task("blocker", "x", "d"), 300ms);
    CHECK(u.status.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED);
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
    s.steering->gate.open();
    CHECK(execute(s, task("counter", "x", "d")).response.output() == "n=1");
  });
}

TEST_CASE("a deadline that passes ends the call by its own timeout, not a cancel", "[grpc]") {
  run_with_time_limit(60s, "deadline as timeout", [] {
    auto timeouts = std::make_shared<agentrt_test::CountingSink>("status=4 ");
    auto cancels = std::make_shared<agentrt_test::CountingSink>("status=1 ");
    server::GrpcConfig gc;
    gc.logger = std::make_shared<spdlog::logger>("grpc", spdlog::sinks_init_list{timeouts, cancels});
    Served s{agentrt_test::test_config(), gc};
    for (int i = 0; i < 5; ++i) {
      auto u = execute(s, task("blocker", "x", "dl-" + std::to_string(i)), 100ms);
      CHECK(u.status.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED);
    }
    s.grpc->stop(); // every rpc's access line is written by now
    CHECK(timeouts->count() == 5);
    CHECK(cancels->count() == 0);
    s.steering->gate.open();
  });
}

TEST_CASE("a stream whose client stops reading is cancelled past the backlog, its call too",
          "[grpc]") {
  run_with_time_limit(60s, "backlog", [] {
    server::GrpcConfig gc;
    gc.max_stream_backlog = 256 * 1024;
    Served s{agentrt_test::test_config(), gc};
    auto c = context(30s);
    auto reader = s.stub->ExecuteTaskStream(c.get(), task("flood", "x", "fl"));
    // Reads nothing while the agent emits 125 MiB: the server cancels the rpc and the call.
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
    pb::TaskChunk chunk;
    int read = 0;
    while (reader->Read(&chunk))
      ++read;
    CHECK(read < 2000); // it never got the whole stream
    CHECK(reader->Finish().error_code() == ::grpc::StatusCode::CANCELLED);
  });
}

TEST_CASE("a client cancel cancels the call: the turn stops and commits nothing", "[grpc]") {
  run_with_time_limit(60s, "cancel", [] {
    Served s;
    auto c = context();
    std::promise<::grpc::Status> done;
    pb::TaskResponse r;
    auto request = task("blocker", "x", "c");
    s.stub->async()->ExecuteTask(c.get(), &request, &r,
                                 [&](::grpc::Status st) { done.set_value(st); });
    s.steering->gate.wait_arrivals(1);
    c->TryCancel();
    CHECK(done.get_future().get().error_code() == ::grpc::StatusCode::CANCELLED);
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
    CHECK(execute(s, task("counter", "x", "c")).response.turn() == 1); // the cancelled turn left none
  });
}

TEST_CASE("ExecuteTaskStream: one chunk per event, the session on each, the outcome last",
          "[grpc]") {
  run_with_time_limit(60s, "stream", [] {
    Served s;
    auto t = task("counter", "x", "st");
    t.set_task_id("t-1");
    auto st = stream(s, t);
    REQUIRE(st.status.ok());
    CHECK(st.session_header == "st");
    CHECK(kinds(st.chunks) == std::vector<std::string>{"started", "chunk", "completed"});
    for (std::size_t i = 0; i < st.chunks.size(); ++i) {
      CHECK(st.chunks[i].seq() == i + 1);
      CHECK(st.chunks[i].session_id() == "st");
      CHECK(st.chunks[i].task_id() == "t-1");
      CHECK(st.chunks[i].agent_id() == "counter");
      CHECK(st.chunks[i].is_final() == (i + 1 == st.chunks.size()));
    }
    CHECK(st.chunks[1].content() == "counting");
    auto& last = st.chunks.back();
    CHECK(last.success());
    CHECK(last.output() == "n=1");
    CHECK(last.turn() == 1);
    CHECK(last.content().empty()); // the agent streamed pieces: they are the content

    // An agent that streams nothing: the final chunk's content is the whole output.
    auto quiet = stream(s, task("quiet", "x"));
    REQUIRE(quiet.status.ok());
    CHECK(kinds(quiet.chunks) == std::vector<std::string>{"started", "completed"});
    CHECK(quiet.chunks.back().content() == "the whole answer");
    CHECK(quiet.chunks.back().session_id().size() == 36);
    CHECK(quiet.session_header == quiet.chunks.back().session_id());
  });
}

TEST_CASE("a cancelled stream ends its turn and the session stays usable", "[grpc]") {
  run_with_time_limit(60s, "stream cancel", [] {
    Served s;
    auto c = context();
    auto reader = s.stub->ExecuteTaskStream(c.get(), task("blocker", "x", "sc"));
    pb::TaskChunk chunk;
    REQUIRE(reader->Read(&chunk));
    CHECK(chunk.kind() == "started");
    REQUIRE(reader->Read(&chunk));
    CHECK(chunk.content() == "waiting");
    c->TryCancel();
    while (reader->Read(&chunk)) {
    }
    CHECK(reader->Finish().error_code() == ::grpc::StatusCode::CANCELLED);
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
    CHECK(execute(s, task("counter", "x", "sc")).response.turn() == 1);
  });
}

TEST_CASE("50 concurrent streams on 50 sessions each see only their own events", "[grpc]") {
  run_with_time_limit(90s, "concurrent streams", [] {
    Served s;
    std::vector<std::future<Streamed>> all;
    for (int i = 0; i < 50; ++i)
      all.push_back(std::async(std::launch::async, [&s, i] {
        return stream(s, task("counter", "x", "s-" + std::to_string(i)));
      }));
    for (int i = 0; i < 50; ++i) {
      auto st = all[i].get();
      REQUIRE(st.status.ok());
      REQUIRE(st.chunks.size() == 3);
      for (auto& c : st.chunks)
        CHECK(c.session_id() == "s-" + std::to_string(i));
      CHECK(st.chunks.back().output() == "n=1");
    }
  });
}

TEST_CASE("ExecuteTool runs the tool for the session it names, and maps its failures",
          "[grpc]") {
  run_with_time_limit(60s, "tools", [] {
    Served s;
    auto call = [&](pb::ToolRequest r, std::chrono::milliseconds deadline = 10s) {
      auto c = context(deadline);
      pb::ToolResponse out;
      auto st = s.stub->ExecuteTool(c.get(), r, &out);
      return std::tuple{st, out, header(c->GetServerInitialMetadata(), "x-session-id"),
                        header(c->GetServerTrailingMetadata(), "agentrt-error-code")};
    };
    pb::ToolRequest r;
    r.set_tool_id("echo_tool");
    r.set_operation("look");
    r.set_session_id("t-1");
    r.set_agent_id("router");
    (*r.mutable_parameters())["b"] = "2";
    (*r.mutable_parameters())["a"] = "1";
    auto [st, out, session, code] = call(r);
    REQUIRE(st.ok());
    CHECK(out.success());
    CHECK(out.result() == R"(t-1|look|{"a":"1","b":"2"}|router)");
    CHECK(out.session_id() == "t-1");
    CHECK(out.tool_id() == "echo_tool");
    CHECK(session == "t-1");

    r.clear_session_id();
    auto [st2, minted, session2, code2] = call(r);
    REQUIRE(st2.ok());
    CHECK(minted.session_id().size() == 36);
    CHECK(minted.result().rfind(minted.session_id() + "|", 0) == 0);
    CHECK(session2 == minted.session_id());

    r.set_tool_id("failing_tool");
    auto [st3, failed, s3, c3] = call(r);
    REQUIRE(st3.ok());
    CHECK_FALSE(failed.success());
    CHECK(failed.error_code() == "tool_failed");
    CHECK(failed.error().rfind("the tool failed; the server log has the details", 0) == 0);

    r.set_tool_id("nope");
    auto [st4, o4, s4, c4] = call(r);
    CHECK(st4.error_code() == ::grpc::StatusCode::NOT_FOUND);
    CHECK(c4 == "unknown_tool");

    r.set_tool_id("");
    auto [st5, o5, s5, c5] = call(r);
    CHECK(st5.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(c5 == "invalid_argument");

    r.set_tool_id("echo_tool");
    r.set_session_id("bad id!");
    auto [st6, o6, s6, c6] = call(r);
    CHECK(st6.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(c6 == "invalid_session_id");
    CHECK(s6 == "<none>"); // a malformed id is not echoed into a header

    r.set_tool_id("slow_tool");
    r.set_session_id("t-1");
    auto [st7, o7, s7, c7] = call(r, 300ms);
    CHECK(st7.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED);
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
  });
}

TEST_CASE("a cancelled ExecuteTool stops its tool", "[grpc]") {
  run_with_time_limit(60s, "tool cancel", [] {
    Served s;
    auto c = context();
    pb::ToolRequest r;
    r.set_tool_id("slow_tool");
    pb::ToolResponse out;
    std::promise<::grpc::Status> done;
    s.stub->async()->ExecuteTool(c.get(), &r, &out, [&](::grpc::Status st) { done.set_value(st); });
    s.steering->gate.wait_arrivals(1);
    c->TryCancel();
    CHECK(done.get_future().get().error_code() == ::grpc::StatusCode::CANCELLED);
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
  });
}

TEST_CASE("a tool run waiting for a pool thread ends at the client's deadline and stop returns",
          "[grpc]") {
  run_with_time_limit(60s, "queued tool", [] {
    RuntimeConfig rc = agentrt_test::test_config(1);
    rc.max_blocking_threads = 2; // the hog's run and its tool take both threads
    Served s{rc};
    pb::ToolRequest hog;
    hog.set_tool_id("slow_tool");
    auto hogging = std::async(std::launch::async, [&] {
      auto c = context(30s);
      pb::ToolResponse out;
      return s.stub->ExecuteTool(c.get(), hog, &out).error_code();
    });
    s.steering->gate.wait_arrivals(1);
    pb::ToolRequest queued;
    queued.set_tool_id("echo_tool");
    auto c = context(200ms);
    pb::ToolResponse out;
    CHECK(s.stub->ExecuteTool(c.get(), queued, &out).error_code()
          == ::grpc::StatusCode::DEADLINE_EXCEEDED);
    auto start = std::chrono::steady_clock::now();
    s.grpc->stop(0ms); // cancels the hog's rpc, whose stop ends its run at once
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    auto hog_status = hogging.get(); // gRPC's shutdown ends it: UNAVAILABLE, or CANCELLED
    CHECK((hog_status == ::grpc::StatusCode::UNAVAILABLE
           || hog_status == ::grpc::StatusCode::CANCELLED));
    s.steering->gate.open();
  });
}

TEST_CASE("drain refuses new rpcs with UNAVAILABLE and waits for the running ones", "[grpc]") {
  run_with_time_limit(60s, "drain", [] {
    Served s;
    auto running = std::async(std::launch::async, [&] { return execute(s, task("blocker", "x", "dr")); });
    s.steering->gate.wait_arrivals(1);
    CHECK(s.grpc->drain(0ms) == 1);
    auto refused = execute(s, task("counter", "x", "other"));
    CHECK(refused.status.error_code() == ::grpc::StatusCode::UNAVAILABLE);
    CHECK(refused.error_code == "shutting_down");
    pb::ToolRequest r;
    r.set_tool_id("echo_tool");
    pb::ToolResponse out;
    auto c = context();
    CHECK(s.stub->ExecuteTool(c.get(), r, &out).error_code() == ::grpc::StatusCode::UNAVAILABLE);
    s.steering->gate.open();
    CHECK(s.grpc->drain(10s) == 0);
    CHECK(running.get().response.output() == "opened");
  });
}

TEST_CASE("stop ends a running stream: its call is cancelled and stop returns", "[grpc]") {
  run_with_time_limit(60s, "stop", [] {
    Served s;
    auto c = context();
    auto reader = s.stub->ExecuteTaskStream(c.get(), task("blocker", "x", "stop"));
    pb::TaskChunk chunk;
    REQUIRE(reader->Read(&chunk));
    s.steering->gate.wait_arrivals(1);
    s.grpc->stop(0ms);
    while (reader->Read(&chunk)) {
    }
    auto status = reader->Finish();
    CHECK_FALSE(status.ok());
    agentrt_test::eventually([&] { return s.steering->stopped.load() == 1; });
  });
}
