#include "core/compaction.hpp"

#include "core/agent_registry.hpp"
#include "core/call_state.hpp"
#include "core/session_data.hpp"

#include <algorithm>

namespace agentrt::detail {

std::size_t entries_to_fold(const History& committed, std::size_t adding_entries,
                            std::size_t adding_bytes, const HistoryLimit& limit, bool summarized) {
  std::size_t bytes = adding_bytes;
  for (auto& m : committed)
    bytes += m.content.size();
  auto entries = committed.size() + adding_entries;
  bool over = (limit.max_entries > 0 && entries > limit.max_entries)
              || (limit.max_bytes > 0 && bytes > limit.max_bytes);
  if (!over)
    return 0;
  // Fold the oldest until what is left (with the summary, when there is one) is within
  // half the bound, or until every committed entry is folded.
  std::size_t count = 0;
  auto fits = [&] {
    auto left = entries - count + (summarized && count > 0 ? 1 : 0);
    return (limit.max_entries == 0 || left <= limit.max_entries / 2)
           && (limit.max_bytes == 0 || bytes <= limit.max_bytes / 2);
  };
  while (count < committed.size() && !fits()) {
    bytes -= committed[count].content.size();
    ++count;
  }
  if (summarized && count < 2)
    return 0; // one entry folded into one summary saves nothing
  return count;
}

History folded(const History& committed, std::size_t count,
               const std::optional<std::string>& summary) {
  History out;
  out.reserve(committed.size() - count + 1);
  if (summary)
    out.push_back(summary_entry(*summary));
  out.insert(out.end(), committed.begin() + static_cast<std::ptrdiff_t>(count), committed.end());
  return out;
}

std::optional<Compaction> plan_compaction(TurnContext& ctx) {
  auto& options = ctx.session->entry->options;
  auto& limit = options.history_limit;
  if (limit.max_entries == 0 && limit.max_bytes == 0)
    return std::nullopt;
  auto adding_entries = ctx.appended.size() + 2; // the input, the turn's entries, the output
  auto adding_bytes = ctx.call->input.size() + ctx.output.size();
  for (auto& m : ctx.appended)
    adding_bytes += m.content.size();
  bool summarized = static_cast<bool>(options.compactor);
  auto count = entries_to_fold(ctx.session->history, adding_entries, adding_bytes, limit,
                               summarized);
  if (count == 0)
    return std::nullopt;
  if (!summarized) {
    ctx.fold = count;
    return std::nullopt;
  }
  Compaction c;
  c.key = ctx.session->key;
  c.entries.assign(ctx.session->history.begin(),
                   ctx.session->history.begin() + static_cast<std::ptrdiff_t>(count));
  c.stop = ctx.call->stop.get_token();
  return c;
}

std::optional<std::string> take_summary(TurnContext& ctx, std::size_t count,
                                        Result<std::string> summary) {
  if (!summary)
    return "the compactor failed, the history stays as it was: " + summary.error().message;
  ctx.fold = count;
  ctx.summary = std::move(*summary);
  return std::nullopt;
}

} // namespace agentrt::detail
