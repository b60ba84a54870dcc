#include "stores/packed_session.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace agentrt::detail {

namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

void put_fixed(std::string& out, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

/// Reads what the put_ functions wrote; any overrun is an error.
class Reader {
public:
  explicit Reader(std::string_view b) : b_(b) {
    // nop
  }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      auto c = static_cast<unsigned char>(byte());
      v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
      if ((c & 0x80) == 0)
        return v;
    }
    throw std::runtime_error("packed session: varint too long");
  }

  std::string string() {
    auto n = varint();
    need(n);
    std::string s{b_.substr(at_, n)};
    at_ += n;
    return s;
  }

  std::uint64_t fixed() {
    need(8);
    std::uint64_t v;
    std::memcpy(&v, b_.data() + at_, 8);
    at_ += 8;
    return v;
  }

  char byte() {
    need(1);
    return b_[at_++];
  }

  bool done() const {
    return at_ == b_.size();
  }

private:
  void need(std::uint64_t n) const {
    if (n > b_.size() - at_)
      throw std::runtime_error("packed session: truncated");
  }

  std::string_view b_;
  std::size_t at_ = 0;
};

} // namespace

std::string pack_session(const StoredSession& s) {
  std::string out;
  put_varint(out, s.turns);
  put_varint(out, s.history.size());
  for (auto& m : s.history) {
    out.push_back(static_cast<char>(m.role));
    put_string(out, m.content);
    put_string(out, m.name);
  }
  put_varint(out, s.state.size());
  for (auto& [k, v] : s.state) {
    put_string(out, k);
    put_string(out, v);
  }
  put_varint(out, s.requests.size());
  for (auto& r : s.requests) {
    put_string(out, r.request_id);
    put_fixed(out, r.input_hash);
    put_varint(out, r.turn);
    put_string(out, r.output);
    out.push_back(r.interrupted ? 1 : 0);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(r.at.time_since_epoch());
    put_varint(out, zigzag(ns.count()));
  }
  out.shrink_to_fit(); // kept for as long as the session rests: no slack
  return out;
}

StoredSession unpack_session(SessionKey key, std::chrono::system_clock::time_point created,
                             std::chrono::system_clock::time_point last_activity,
                             std::string_view bytes) {
  StoredSession s;
  s.key = std::move(key);
  s.created = created;
  s.last_activity = last_activity;
  Reader in{bytes};
  s.turns = in.varint();
  auto entries = in.varint();
  s.history.reserve(std::min<std::uint64_t>(entries, bytes.size() / 3)); // 3 bytes each at least
  for (std::uint64_t i = 0; i < entries; ++i) {
    Message m;
    auto role = static_cast<unsigned char>(in.byte());
    if (role > static_cast<unsigned char>(Role::tool_result))
      throw std::runtime_error("packed session: bad role");
    m.role = static_cast<Role>(role);
    m.content = in.string();
    m.name = in.string();
    s.history.push_back(std::move(m));
  }
  for (auto n = in.varint(); n > 0; --n) {
    auto k = in.string();
    s.state.emplace(std::move(k), in.string());
  }
  for (auto n = in.varint(); n > 0; --n) {
    StoredRequest r;
    r.request_id = in.string();
    r.input_hash = in.fixed();
    r.turn = in.varint();
    r.output = in.string();
    r.interrupted = in.byte() != 0;
    r.at = std::chrono::system_clock::time_point{std::chrono::duration_cast<
      std::chrono::system_clock::duration>(std::chrono::nanoseconds{unzigzag(in.varint())})};
    s.requests.push_back(std::move(r));
  }
  if (!in.done())
    throw std::runtime_error("packed session: trailing bytes");
  return s;
}

} // namespace agentrt::detail
