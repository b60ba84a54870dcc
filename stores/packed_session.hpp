#pragma once

// A stored session packed into one byte string: what the in-memory store keeps per
// passivated session, so a session at rest costs a few hundred bytes (its strings and
// counts, length-prefixed) instead of a StoredSession's containers and their nodes.
//
// The key and the two times stay outside (the store indexes and sweeps by them).
// Format (internal, never persisted; varint = LEB128):
//   turns varint
//   entries varint, each: role byte, content str, name str
//   state varint, each: key str, value str
//   requests varint, each: id str, input_hash 8 bytes, turn varint, output str,
//                          interrupted byte, at (ns since epoch, zigzag varint)
//   str = length varint, bytes

#include <agentrt/session_store.hpp>

#include <string>
#include <string_view>

namespace agentrt::detail {

/// `s` without its key and times, packed.
std::string pack_session(const StoredSession& s);

/// The session `bytes` packed, with its key and times. Throws std::runtime_error on bytes
/// that pack_session did not make.
StoredSession unpack_session(SessionKey key, std::chrono::system_clock::time_point created,
                             std::chrono::system_clock::time_point last_activity,
                             std::string_view bytes);

} // namespace agentrt::detail
