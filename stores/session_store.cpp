// What every SessionStore has unless it says otherwise.

#include <agentrt/session_store.hpp>

namespace agentrt {

Result<std::optional<StoredSession>> SessionStore::read(const SessionKey&) {
  return Error{errc::store_failed,
               "this session store cannot be read without taking the session out of it "
               "(implement SessionStore::read)"};
}

} // namespace agentrt

namespace agentrt {

namespace {

constexpr std::string_view elsewhere_at = " at <";
constexpr std::string_view elsewhere_end = ">";

} // namespace

Error make_elsewhere_error(std::string_view node, std::string_view address) {
  std::string message = "another node holds the session's lease: node '";
  message.append(node).append("'").append(elsewhere_at).append(address).append(elsewhere_end);
  message += "; retry there, or here once its lease ends";
  return Error{errc::session_elsewhere, std::move(message)};
}

std::string elsewhere_address(std::string_view message) {
  auto from = message.rfind(elsewhere_at);
  if (from == std::string_view::npos)
    return {};
  from += elsewhere_at.size();
  auto to = message.find(elsewhere_end, from);
  if (to == std::string_view::npos)
    return {};
  return std::string{message.substr(from, to - from)};
}

} // namespace agentrt
