// A host process for the durability tests: runs against a SQLite store until it is killed.
//   store_child DB work           calls on 40 sessions from 4 threads, printing
//                                 "ok <session> <input>" after each reply it received
//   store_child DB owners N       session_for("chat", "user-<i>") for i < N, printing ids
//   store_child DB requests       like work, each call with request id "req-<thread>-<i>",
//                                 printing "ok <session> <request id> <input> <output>"
#include <agentrt/agentrt.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3)
    return 2;
  agentrt::RuntimeConfig cfg;
  cfg.store_path = argv[1];
  cfg.worker_threads = 2;
  agentrt::Runtime rt{cfg};
  rt.register_handler("chat", [](agentrt::Turn& t) {
    auto n = std::stoi(t.state().get_or("n", "0")) + 1;
    t.state().set("n", std::to_string(n));
    return "reply " + std::to_string(n);
  });
  std::string mode = argv[2];
  if (mode == "owners") {
    int n = argc > 3 ? std::stoi(argv[3]) : 10;
    for (int i = 0; i < n; ++i) {
      auto s = rt.session_for("chat", "user-" + std::to_string(i));
      std::printf("%s\n", s ? s->session_id.c_str() : "error");
    }
    return 0;
  }
  bool requests = mode == "requests";
  std::mutex out;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (long i = 0;; ++i) {
        auto sid = "s" + std::to_string((i * 4 + t) % 40);
        auto input = "in-" + std::to_string(t) + "-" + std::to_string(i);
        auto rid = "req-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = rt.ask({.agent = "chat",
                         .session_id = sid,
                         .input = input,
                         .request_id = requests ? rid : std::string{}});
        if (!r.ok())
          continue;
        std::lock_guard g{out};
        if (requests)
          std::printf("ok %s %s %s %s\n", sid.c_str(), rid.c_str(), input.c_str(),
                      r.output.c_str());
        else
          std::printf("ok %s %s\n", sid.c_str(), input.c_str());
        std::fflush(stdout);
      }
    });
  for (auto& t : threads)
    t.join();
}
