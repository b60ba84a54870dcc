// The in-memory store keeps resting sessions packed (stores/packed_session): every field
// comes back exactly, through the store and through the codec, and bytes the codec did not
// make are refused.

#include "stores/packed_session.hpp"
#include "support/time_limit.hpp"

#include <agentrt/agentrt.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace agentrt;
using namespace std::chrono_literals;
using agentrt_test::run_with_time_limit;

namespace {

/// A session with something in every field, including strings longer than a one-byte
/// length, bytes that are not text, and a time before the epoch.
StoredSession full_session() {
  StoredSession s;
  s.key = SessionKey{"planner", "s-42"};
  s.turns = 300; // a two-byte varint
  s.history = {Message{Role::system, "be brief", {}}, Message{Role::user, std::string(200, 'x'), {}},
               Message{Role::tool_call, "{\"q\":1}", "search"},
               Message{Role::tool_result, std::string("a\0b\xff", 4), "search"},
               Message{Role::assistant, "", {}}};
  s.state = {{"city", "Lisbon"}, {"", "empty key"}, {"k", std::string(130, 'v')}};
  s.created = std::chrono::system_clock::time_point{std::chrono::seconds(1'700'000'000)};
  s.last_activity = s.created + 5min;
  s.requests = {
    StoredRequest{"r1", 0xfedcba9876543210ull, 299, "out", false, s.created + 1min},
    StoredRequest{"r2", 7, 300, "", true,
                  std::chrono::system_clock::time_point{} - std::chrono::seconds(3)}};
  return s;
}

void check_same(const StoredSession& a, const StoredSession& b) {
  CHECK(a.key == b.key);
  CHECK(a.turns == b.turns);
  CHECK(a.history == b.history);
  CHECK(a.state == b.state);
  CHECK(a.created == b.created);
  CHECK(a.last_activity == b.last_activity);
  REQUIRE(a.requests.size() == b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    CHECK(a.requests[i].request_id == b.requests[i].request_id);
    CHECK(a.requests[i].input_hash == b.requests[i].input_hash);
    CHECK(a.requests[i].turn == b.requests[i].turn);
    CHECK(a.requests[i].output == b.requests[i].output);
    CHECK(a.requests[i].interrupted == b.requests[i].interrupted);
    CHECK(a.requests[i].at == b.requests[i].at);
  }
}

} // namespace

TEST_CASE("a packed session unpacks to exactly what was packed", "[store][packed]") {
  run_with_time_limit(30s, "a packed session unpacks to exactly what was packed", [] {
    auto s = full_session();
    auto bytes = detail::pack_session(s);
    check_same(detail::unpack_session(s.key, s.created, s.last_activity, bytes), s);
    StoredSession empty;
    empty.key = SessionKey{"a", "b"};
    auto none = detail::pack_session(empty);
    CHECK(none.size() == 4); // turns, entries, state, requests: one zero byte each
    check_same(detail::unpack_session(empty.key, {}, {}, none), empty);
  });
}

TEST_CASE("bytes the codec did not make are refused", "[store][packed]") {
  run_with_time_limit(30s, "bytes the codec did not make are refused", [] {
    auto s = full_session();
    auto bytes = detail::pack_session(s);
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, bytes.size() / 2, bytes.size() - 1})
      CHECK_THROWS_AS(detail::unpack_session(s.key, {}, {}, bytes.substr(0, cut)),
                      std::runtime_error);
    CHECK_THROWS_AS(detail::unpack_session(s.key, {}, {}, bytes + "x"), std::runtime_error);
    std::string bad_role{"\x01\x01\x09\x00\x00\x00\x00\x00", 8}; // one entry, role 9
    CHECK_THROWS_AS(detail::unpack_session(s.key, {}, {}, bad_role), std::runtime_error);
  });
}

TEST_CASE("the memory store gives back every field of a resting session", "[store][packed]") {
  run_with_time_limit(30s, "the memory store gives back every field of a resting session", [] {
    auto store = make_memory_store();
    auto s = full_session();
    auto copy = s;
    REQUIRE(store->put(copy));
    auto read = store->read(s.key); // a read leaves it there
    REQUIRE(read);
    REQUIRE(*read);
    check_same(**read, s);
    auto old = store->expired(s.created + 1s, s.last_activity + 1s);
    REQUIRE(old);
    REQUIRE(old->size() == 1);
    CHECK(old->front() == s.key);
    auto loaded = store->load(s.key); // a load takes it out
    REQUIRE(loaded);
    REQUIRE(*loaded);
    check_same(**loaded, s);
    auto gone = store->read(s.key);
    REQUIRE(gone);
    CHECK_FALSE(*gone);
  });
}
