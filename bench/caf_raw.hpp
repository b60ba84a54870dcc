#pragma once

// The framework's floor: one plain CAF actor per session, doing the same per-turn work as
// agentrt (Transcript) and fed by the same windowed callers, with none of agentrt's
// features (no supervisors, expiry, busy policies, event streams, stores). What agentrt
// costs on top of this is what agentrt itself costs.

#include "system.hpp"

#include <memory>
#include <string>

namespace bench {

class CafRawSystem final : public System {
public:
  /// `workers` scheduler threads with agentrt's scheduler policy (`stealing`: CAF's
  /// work stealing, else work sharing).
  CafRawSystem(Work work, std::size_t workers, bool stealing);
  ~CafRawSystem() override;

  const char* name() const override {
    return "caf-raw";
  }

  void submit(const std::string& key, Recorder& rec, std::size_t index) override;
  std::uint64_t call(const std::string& key) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace bench
