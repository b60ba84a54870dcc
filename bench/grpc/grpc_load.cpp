// agentrt-grpc-load: keeps gRPC calls of the AgentService (proto/agent_platform.proto) in
// flight against an agentrt-server for a while, checks every answer, and reports calls/s,
// chunks/s, latency and what the server process used meanwhile. On gRPC's async callback
// client API: every call is a completion lambda or a ClientReadReactor, no thread per call.
//
//   agentrt-grpc-load --target 127.0.0.1:PORT [--mode unary|stream] [--seconds S] [--calls N]
//       [--concurrency N] [--streams N] [--channels C] [--sessions K] [--agent echo-agent]
//       [--input TEXT] [--param NAME=VALUE]... [--timeout-ms MS] [--server-pid PID[,PID...]]
//       [--run-id ID] [--json]
//
// unary:  `--concurrency` (64) ExecuteTask calls in flight, each lane starting its next call
//         when its last is answered; over `--channels` (2) channels (each its own HTTP/2
//         connection); `--sessions` (= concurrency) session ids, lane j's m-th call on
//         session (j + m * concurrency) % sessions (so with the default every lane keeps
//         one session, and no two calls in flight share one).
// stream: `--streams` (64) ExecuteTaskStream calls at once, each lane on a session of its
//         own, a new stream as soon as the last one ended.
// Both run for `--seconds` (10) or until `--calls` calls have been started, whichever comes
// first (`--calls` alone: no time limit).
//
// Every answer is checked: status OK, success, the session id echoed (answer, metadata and
// the `x-session-id` header for unary; every chunk for streams), turn = metadata
// task_number; a stream's chunks have seq 1, 2, 3, ..., one final chunk (completed) last,
// and their contents concatenated are its output; for echo-agent the output is exactly what
// the agent answers ("echo: INPUT[ [params]] (task TURN)"). Anything else is an error.
//
// Prints one line (stdout; stderr with --json, and the JSON object on stdout: see
// bench/http/call_report.hpp). Exit status 0 only if calls were made and none failed; 1
// otherwise; 2 for a bad command line or a server that cannot be reached.

#include "call_report.hpp"

#include "agent_platform.grpc.pb.h"
#include "agent_platform.pb.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using agent_platform::AgentService;
using agent_platform::TaskChunk;
using agent_platform::TaskRequest;
using agent_platform::TaskResponse;
using Clock = std::chrono::steady_clock;
using sse_load::Tally;

struct Options {
  std::string target = "127.0.0.1:50051";
  std::string mode = "unary";
  std::size_t concurrency = 64;
  std::size_t streams = 64;
  std::size_t channels = 2;
  std::size_t sessions = 0; // 0: = concurrency
  std::string agent = "echo-agent";
  std::string input = "hello";
  std::map<std::string, std::string> params; // sorted, as echo-agent lists them
  std::optional<double> seconds;
  std::uint64_t calls = 0; // 0: no limit
  std::chrono::milliseconds timeout{30'000};
  std::vector<int> server_pids;
  std::string run_id;
  bool json = false;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: agentrt-grpc-load --target HOST:PORT [--mode unary|stream] [--seconds S]\n"
               "         [--calls N] [--concurrency N] [--streams N] [--channels C] [--sessions K]\n"
               "         [--agent echo-agent] [--input TEXT] [--param NAME=VALUE]...\n"
               "         [--timeout-ms MS] [--server-pid PID[,PID...]] [--run-id ID] [--json]\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(2);
      return argv[++i];
    };
    auto number = [&](long lo, long hi) {
      auto v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lo || n > hi)
        usage(2);
      return n;
    };
    if (a == "--target")
      o.target = value();
    else if (a == "--mode") {
      o.mode = value();
      if (o.mode != "unary" && o.mode != "stream")
        usage(2);
    } else if (a == "--concurrency")
      o.concurrency = static_cast<std::size_t>(number(1, 100'000));
    else if (a == "--streams")
      o.streams = static_cast<std::size_t>(number(1, 100'000));
    else if (a == "--channels")
      o.channels = static_cast<std::size_t>(number(1, 1'000));
    else if (a == "--sessions")
      o.sessions = static_cast<std::size_t>(number(1, 10'000'000));
    else if (a == "--agent")
      o.agent = value();
    else if (a == "--input")
      o.input = value();
    else if (a == "--param") {
      auto kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        usage(2);
      o.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "--seconds") {
      auto v = value();
      char* end = nullptr;
      double s = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(s > 0) || s > 86'400)
        usage(2);
      o.seconds = s;
    } else if (a == "--calls")
      o.calls = static_cast<std::uint64_t>(number(1, 1L << 40));
    else if (a == "--timeout-ms")
      o.timeout = std::chrono::milliseconds(number(1, 86'400'000));
    else if (a == "--server-pid" || a == "--server-pids") {
      std::istringstream list{value()};
      for (std::string p; std::getline(list, p, ',');)
        if (!p.empty())
          o.server_pids.push_back(std::atoi(p.c_str()));
    } else if (a == "--run-id")
      o.run_id = value();
    else if (a == "--json")
      o.json = true;
    else if (a == "--help" || a == "-h")
      usage(0);
    else
      usage(2);
  }
  if (!o.seconds && o.calls == 0)
    o.seconds = 10.0;
  if (o.sessions == 0)
    o.sessions = o.concurrency;
  if (o.run_id.empty())
    o.run_id = std::to_string(::getpid()) + "x"
               + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()
                                % 1'000'000'007);
  return o;
}

/// The whole load: the options, the stubs, and the count of lanes still running.
class Load {
public:
  explicit Load(Options o) : o_(std::move(o)) {
    for (std::size_t i = 0; i < o_.channels; ++i) {
      grpc::ChannelArguments args;
      // Each channel its own connection: no subchannel shared through the global pool.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("agentrt.load.channel", static_cast<int>(i));
      channels_.push_back(
        grpc::CreateCustomChannel(o_.target, grpc::InsecureChannelCredentials(), args));
      stubs_.push_back(AgentService::NewStub(channels_.back()));
    }
    if (o_.params.empty()) {
      suffix_.clear();
    } else {
      suffix_ = " [";
      for (const auto& [k, v] : o_.params)
        suffix_ += (suffix_.size() > 2 ? ", " : "") + k + "=" + v;
      suffix_ += "]";
    }
  }

  const Options& options() const { return o_; }

  bool connect(std::chrono::seconds within) {
    auto until = std::chrono::system_clock::now() + within;
    for (auto& c : channels_)
      if (!c->WaitForConnected(until))
        return false;
    return true;
  }

  AgentService::Stub& stub(std::size_t lane) { return *stubs_[lane % stubs_.size()]; }

  std::string session(std::size_t index) const {
    return "grpc-load-" + o_.run_id + "-" + std::to_string(index);
  }

  /// The request every call sends, but for its session.
  void fill(TaskRequest& r, const std::string& session) const {
    r.set_agent_id(o_.agent);
    r.set_input(o_.input);
    r.set_session_id(session);
    for (const auto& [k, v] : o_.params)
      (*r.mutable_parameters())[k] = v;
  }

  /// What echo-agent answers on turn `turn`; nullopt for another agent (not checked).
  std::optional<std::string> expected_output(std::uint64_t turn) const {
    if (o_.agent != "echo-agent")
      return std::nullopt;
    return "echo: " + o_.input + suffix_ + " (task " + std::to_string(turn) + ")";
  }

  /// Whether a lane may start another call.
  bool may_start() {
    if (o_.calls && started_.fetch_add(1, std::memory_order_relaxed) >= o_.calls)
      return false;
    return Clock::now() < until_;
  }

  void begin(std::size_t lanes) {
    active_ = lanes;
    start_ = Clock::now();
    until_ = o_.seconds ? start_ + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(*o_.seconds))
                        : Clock::time_point::max();
  }

  void lane_done() {
    std::lock_guard guard{mu_};
    if (--active_ == 0) {
      end_ = Clock::now();
      cv_.notify_all();
    }
  }

  /// Waits for every lane; returns the wall time in seconds.
  double wait() {
    std::unique_lock lock{mu_};
    cv_.wait(lock, [&] { return active_ == 0; });
    return std::chrono::duration<double>(end_ - start_).count();
  }

private:
  Options o_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<AgentService::Stub>> stubs_;
  std::string suffix_; // echo-agent's " [k=v, ...]"
  std::atomic<std::uint64_t> started_{0};
  Clock::time_point start_{}, until_{}, end_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t active_ = 0;
};

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

std::string status_text(const grpc::Status& s) {
  return "status " + std::to_string(static_cast<int>(s.error_code())) + ": " + s.error_message();
}

// -- unary ---------------------------------------------------------------------------------

/// One call in flight at a time: its next starts from the completion of the last.
class UnaryLane {
public:
  UnaryLane(Load& load, std::size_t index) : load_(load), index_(index) {
    // nop
  }

  void next() {
    if (!load_.may_start())
      return load_.lane_done();
    const auto& o = load_.options();
    auto* c = new Call;
    c->session = load_.session((index_ + made_++ * o.concurrency) % o.sessions);
    load_.fill(c->request, c->session);
    c->start = Clock::now();
    c->ctx.set_deadline(std::chrono::system_clock::now() + o.timeout);
    load_.stub(index_).async()->ExecuteTask(&c->ctx, &c->request, &c->response,
                                            [this, c](grpc::Status s) { done(c, s); });
  }

  const Tally& tally() const { return tally_; }

private:
  struct Call {
    grpc::ClientContext ctx;
    TaskRequest request;
    TaskResponse response;
    std::string session;
    Clock::time_point start;
  };

  void done(Call* c, const grpc::Status& s) {
    auto us = micros(Clock::now() - c->start);
    auto why = check(*c, s);
    if (why.empty())
      tally_.ok(us);
    else
      tally_.error(c->session + ": " + why);
    delete c;
    next();
  }

  std::string check(const Call& c, const grpc::Status& s) const {
    if (!s.ok())
      return status_text(s);
    const auto& r = c.response;
    if (!r.success())
      return "success=false: " + r.error_code() + ": " + r.error();
    if (r.session_id() != c.session)
      return "session_id " + r.session_id();
    if (!r.error_code().empty() || !r.error().empty())
      return "error set on a success: " + r.error_code();
    const auto& m = r.metadata();
    auto meta = [&](const std::string& k) {
      auto it = m.find(k);
      return it == m.end() ? std::string{"(none)"} : it->second;
    };
    if (meta("session_id") != c.session)
      return "metadata session_id " + meta("session_id");
    if (r.turn() == 0 || meta("task_number") != std::to_string(r.turn()))
      return "turn " + std::to_string(r.turn()) + ", task_number " + meta("task_number");
    const auto& headers = c.ctx.GetServerInitialMetadata();
    auto h = headers.find("x-session-id");
    if (h == headers.end() || std::string_view{h->second.data(), h->second.size()} != c.session)
      return "x-session-id header missing or wrong";
    if (auto want = load_.expected_output(r.turn()); want && r.output() != *want)
      return "output \"" + r.output() + "\", expected \"" + *want + "\"";
    return {};
  }

  Load& load_;
  std::size_t index_;
  std::uint64_t made_ = 0;
  Tally tally_;
};

// -- stream --------------------------------------------------------------------------------

class StreamLane;

/// One ExecuteTaskStream call, deleted by its OnDone.
class StreamCall : public grpc::ClientReadReactor<TaskChunk> {
public:
  StreamCall(StreamLane& lane, Load& load, std::size_t index, std::string session)
    : lane_(lane), load_(load), session_(std::move(session)) {
    load_.fill(request_, session_);
    ctx_.set_deadline(std::chrono::system_clock::now() + load_.options().timeout);
    start_ = Clock::now();
    load_.stub(index).async()->ExecuteTaskStream(&ctx_, &request_, this);
    StartRead(&chunk_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok)
      return; // the stream has ended: OnDone has its status
    if (events_++ == 0)
      first_ = Clock::now();
    check_chunk();
    chunk_.Clear();
    StartRead(&chunk_);
  }

  void OnDone(const grpc::Status& s) override;

private:
  void fail(std::string why) {
    if (why_.empty())
      why_ = std::move(why);
  }

  void check_chunk() {
    const auto& c = chunk_;
    if (final_seen_)
      return fail("a chunk (" + c.kind() + ") after the final one");
    if (c.seq() != events_)
      return fail("seq " + std::to_string(c.seq()) + ", expected " + std::to_string(events_));
    if (c.session_id() != session_)
      return fail("chunk session_id " + c.session_id());
    if (c.kind() == "chunk")
      ++content_chunks_;
    content_ += c.content();
    if (!c.is_final()) {
      if (c.kind() == "completed" || c.kind() == "failed" || c.kind() == "cancelled")
        return fail("a " + c.kind() + " chunk not marked final");
      return;
    }
    final_seen_ = true;
    if (c.kind() != "completed" || !c.success())
      return fail("final chunk " + c.kind() + ": " + c.error_code() + ": " + c.error());
    if (content_ != c.output())
      return fail("contents \"" + content_ + "\" are not the output \"" + c.output() + "\"");
    if (c.turn() == 0)
      return fail("final chunk without a turn");
    if (auto want = load_.expected_output(c.turn()); want && c.output() != *want)
      return fail("output \"" + c.output() + "\", expected \"" + *want + "\"");
  }

  StreamLane& lane_;
  Load& load_;
  std::string session_;
  grpc::ClientContext ctx_;
  TaskRequest request_;
  TaskChunk chunk_;
  Clock::time_point start_, first_;
  std::uint64_t events_ = 0;
  std::uint64_t content_chunks_ = 0;
  std::string content_;
  bool final_seen_ = false;
  std::string why_;
};

/// One stream at a time, all on one session of the lane's own.
class StreamLane {
public:
  StreamLane(Load& load, std::size_t index) : load_(load), index_(index) {
    // nop
  }

  void next() {
    if (!load_.may_start())
      return load_.lane_done();
    new StreamCall(*this, load_, index_, load_.session(index_));
  }

  void ended(Clock::duration took, std::optional<Clock::duration> first, std::uint64_t events,
             std::uint64_t content, const std::string& why) {
    if (why.empty()) {
      tally_.ok(micros(took), events, content);
      tally_.first_chunk_us.push_back(micros(*first));
    } else {
      tally_.error(load_.session(index_) + ": " + why);
    }
    next();
  }

  const Tally& tally() const { return tally_; }

private:
  Load& load_;
  std::size_t index_;
  Tally tally_;
};

void StreamCall::OnDone(const grpc::Status& s) {
  auto took = Clock::now() - start_;
  if (!s.ok())
    fail(status_text(s) + " after " + std::to_string(events_) + " chunks");
  else if (!final_seen_)
    fail("status OK after " + std::to_string(events_) + " chunks, none final");
  auto& lane = lane_;
  std::optional<Clock::duration> first;
  if (events_ > 0)
    first = first_ - start_;
  auto events = events_, content = content_chunks_;
  auto why = std::move(why_);
  delete this;
  lane.ended(took, first, events, content, why);
}

template <class Lane>
Tally run(Load& load, std::size_t n, double& seconds) {
  std::vector<std::unique_ptr<Lane>> lanes;
  for (std::size_t i = 0; i < n; ++i)
    lanes.push_back(std::make_unique<Lane>(load, i));
  load.begin(n);
  for (auto& l : lanes)
    l->next();
  seconds = load.wait();
  Tally all;
  for (auto& l : lanes)
    all.merge(l->tally());
  return all;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  Load load{o};
  if (!load.connect(std::chrono::seconds(10))) {
    std::fprintf(stderr, "agentrt-grpc-load: cannot connect to %s\n", o.target.c_str());
    return 2;
  }
  bool unary = o.mode == "unary";
  auto lanes = unary ? o.concurrency : o.streams;
  sse_load::CostMeter cost{o.server_pids};
  cost.start();
  double seconds = 0;
  auto tally = unary ? run<UnaryLane>(load, lanes, seconds) : run<StreamLane>(load, lanes, seconds);
  cost.finish();

  sse_load::RunShape shape{"grpc", o.mode, o.target, o.agent, lanes, std::min(o.channels, lanes),
                           unary ? o.sessions : lanes};
  auto j = sse_load::call_report(shape, std::move(tally), seconds, cost);
  j["run_id"] = o.run_id;
  j["input"] = o.input;
  sse_load::print_call_report(o.json ? stderr : stdout, j);
  if (o.json)
    std::printf("%s\n", j.dump().c_str());
  return j["errors"].get<std::uint64_t>() == 0 && j["calls"].get<std::uint64_t>() > 0 ? 0 : 1;
}
