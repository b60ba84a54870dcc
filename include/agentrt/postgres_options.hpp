#pragma once

// PostgresOptions: how a PostgreSQL session store is reached, and who this node is to the
// other nodes sharing it (open_postgres_store, RuntimeConfig::postgres).

#include <chrono>
#include <string>

namespace agentrt {

/// Where a PostgreSQL store connects, and who this node is to the other nodes.
struct PostgresOptions {
  /// A libpq connection string or URI, e.g. "postgresql://agentrt@127.0.0.1:5432/agentrt" or
  /// "host=127.0.0.1 port=5432 dbname=agentrt user=agentrt".
  std::string conninfo;
  /// This node's name in the leases it takes: unique per running process. Empty: the host
  /// name and process id. A restarted node with the same name takes its sessions back at
  /// once (its old epoch is fenced) instead of waiting for their leases to end.
  std::string node;
  /// Where clients (and other nodes) reach this node, e.g. "http://10.0.0.5:8080": written
  /// with each lease and returned in session_elsewhere. No spaces, ';', '<' or '>'. Empty:
  /// the node's name.
  std::string address;
  /// How long a lease lasts without renewal: how long a crashed node's sessions wait before
  /// another node may serve them. Renewed every lease/3 in one statement per node; a node
  /// that cannot renew stops serving a session before its lease ends. 10 s: a pause of a
  /// few seconds (GC, a slow disk, a network blip) does not move sessions around.
  std::chrono::milliseconds lease = std::chrono::seconds(10);
  /// How long to wait for a connection (at open and on reconnects).
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
};

} // namespace agentrt
