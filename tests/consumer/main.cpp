// Built against an installed agentrt: one call through the public API only.
#include <agentrt/agentrt.hpp>

#include <cstdio>

int main() {
  agentrt::Runtime rt;
  rt.register_handler("echo", [](agentrt::Turn& t) { return "echo: " + t.input(); });
  auto reply = rt.ask({.agent = "echo", .session_id = "s1", .input = "hi"});
  if (!reply.ok() || reply.output != "echo: hi") {
    std::fprintf(stderr, "unexpected reply: %s / %s\n", reply.output.c_str(),
                 reply.message.c_str());
    return 1;
  }
  std::puts(reply.output.c_str());
  return 0;
}
