#pragma once

// ProcTree: what a server (one process, or a parent with workers) used during a run, read
// from /proc: the CPU time of the given processes and all their descendants between
// `start()` and `finish()`, their summed peak RSS (VmHWM) at the end, and the most
// threads and the most resident memory seen in `sample()`s taken during the run.
// The tree is looked up again at every call, so workers started late are counted too.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace sse_load {

class ProcTree {
public:
  explicit ProcTree(std::vector<int> roots) : roots_(std::move(roots)) {
    // nop
  }

  bool empty() const { return roots_.empty(); }

  void start() {
    for (int pid : members())
      cpu0_[pid] = cpu_ticks(pid);
    sample();
  }

  void sample() {
    std::uint64_t threads = 0;
    std::uint64_t rss = 0;
    for (int pid : members()) {
      threads += status_kb(pid, "Threads:");
      rss += status_kb(pid, "VmRSS:");
    }
    max_threads_ = std::max(max_threads_, threads);
    max_rss_kb_ = std::max(max_rss_kb_, rss);
  }

  void finish() {
    sample();
    cpu_ticks_ = 0;
    hwm_kb_ = 0;
    each_.clear();
    for (int pid : members()) {
      auto now = cpu_ticks(pid);
      auto before = cpu0_.find(pid);
      auto used = now - (before == cpu0_.end() ? 0 : std::min(before->second, now));
      auto hwm = status_kb(pid, "VmHWM:");
      cpu_ticks_ += used;
      hwm_kb_ += hwm;
      each_.push_back({pid, seconds(used), static_cast<double>(hwm) / 1024.0});
    }
  }

  /// Each process's share, as of `finish()`.
  struct Process {
    int pid;
    double cpu_s;
    double peak_rss_mb;
  };
  const std::vector<Process>& processes() const { return each_; }

  double cpu_seconds() const { return seconds(cpu_ticks_); }
  double peak_rss_mb() const { return static_cast<double>(hwm_kb_) / 1024.0; }
  double max_sampled_rss_mb() const { return static_cast<double>(max_rss_kb_) / 1024.0; }
  std::uint64_t max_threads() const { return max_threads_; }

  /// The roots that are alive and all their descendants.
  std::vector<int> members() const {
    std::multimap<int, int> children; // ppid -> pid
    if (DIR* d = ::opendir("/proc")) {
      while (auto* e = ::readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
          continue;
        if (auto f = stat_fields(static_cast<int>(pid)); f.size() > 1)
          children.emplace(std::stoi(f[1]), static_cast<int>(pid));
      }
      ::closedir(d);
    }
    std::vector<int> out;
    for (int root : roots_)
      if (!stat_fields(root).empty())
        out.push_back(root);
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto [from, to] = children.equal_range(out[i]);
      for (auto it = from; it != to; ++it)
        if (std::find(out.begin(), out.end(), it->second) == out.end())
          out.push_back(it->second);
    }
    return out;
  }

private:
  static double seconds(std::uint64_t ticks) {
    return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  /// The fields of /proc/PID/stat after the command name: [0] state, [1] ppid, ...,
  /// [11] utime, [12] stime. Empty when the process is gone.
  static std::vector<std::string> stat_fields(int pid) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    std::string all;
    std::getline(in, all);
    auto paren = all.rfind(')');
    std::vector<std::string> out;
    if (paren == std::string::npos)
      return out;
    std::istringstream fields{all.substr(paren + 1)};
    for (std::string f; fields >> f;)
      out.push_back(f);
    return out;
  }

  static std::uint64_t cpu_ticks(int pid) {
    auto f = stat_fields(pid);
    return f.size() > 12 ? std::stoull(f[11]) + std::stoull(f[12]) : 0;
  }

  /// The number after `key` in /proc/PID/status (kB for the Vm* lines), 0 if absent.
  static std::uint64_t status_kb(int pid, const std::string& key) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
    for (std::string line; std::getline(in, line);)
      if (line.compare(0, key.size(), key) == 0)
        return std::strtoull(line.c_str() + key.size(), nullptr, 10);
    return 0;
  }

  std::vector<int> roots_;
  std::map<int, std::uint64_t> cpu0_;
  std::uint64_t cpu_ticks_ = 0;
  std::uint64_t hwm_kb_ = 0;
  std::uint64_t max_rss_kb_ = 0;
  std::uint64_t max_threads_ = 0;
  std::vector<Process> each_;
};

/// CPU time all processors have spent busy since boot (from /proc/stat), in seconds: the
/// difference over a run, less the server's and the client's, is what else ran meanwhile.
inline double machine_busy_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal)
         / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

} // namespace sse_load
