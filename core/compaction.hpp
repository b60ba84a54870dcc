#pragma once

// Compaction: keeping a session's history within its agent type's HistoryLimit. When a
// turn's commit would pass the bound, the oldest committed entries are folded (into one
// summary entry by the agent's Compactor, or dropped without one) down to half the bound.
// Plain functions over a TurnContext, so the rule can be tested without actors; the session
// runs the compactor in the turn's own way of waiting and commits the result with the turn.

#include <agentrt/agent.hpp>
#include <agentrt/history.hpp>

#include "core/fwd.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace agentrt::detail {

/// How many of the oldest of `committed` entries to fold so that they plus the turn's
/// `adding_entries` (of `adding_bytes`) fit `limit`: down to half the bound, keeping the
/// turn's own entries. 0 when they fit, or when folding cannot help (a summary needs at
/// least two entries to fold).
std::size_t entries_to_fold(const History& committed, std::size_t adding_entries,
                            std::size_t adding_bytes, const HistoryLimit& limit, bool summarized);

/// The entry a summary becomes: role `system`, name "summary".
inline Message summary_entry(std::string text) {
  return Message{Role::system, std::move(text), "summary"};
}

/// `committed` with its oldest `count` entries replaced by `summary` (dropped without one).
History folded(const History& committed, std::size_t count,
               const std::optional<std::string>& summary);

/// What the successful turn `ctx` must fold before it commits: nothing (nullopt) when the
/// history stays within bounds or when the oldest entries are simply dropped (then
/// `ctx.fold` is set already); otherwise the entries the agent's compactor must summarize
/// (record the result with `take_summary`).
std::optional<Compaction> plan_compaction(TurnContext& ctx);

/// Records the compactor's answer for the `count` oldest entries: a summary to commit with
/// the turn, or (an Error) nothing: the history stays as it was. Returns the error text to
/// log, if any.
std::optional<std::string> take_summary(TurnContext& ctx, std::size_t count,
                                        Result<std::string> summary);

} // namespace agentrt::detail
