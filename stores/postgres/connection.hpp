#pragma once

// Connection and Rows: RAII over a libpq connection and a statement's result. Statements
// run with text parameters, each prepared once per connection (named by its SQL's address:
// the store's statements are constants), so a batch's statements are not planned anew; a connection that broke is reopened by the next
// call that needs it, with a backoff (50 ms doubling to 2 s) so a down server is not
// hammered: a call during the backoff fails at once.
//
// Thread-safety: none; the store serializes use of a connection with its own mutex (or
// gives it to one thread).

#include <agentrt/result.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace agentrt::detail::postgres {

/// A statement's result rows (or its outcome, for one without rows).
class Rows {
public:
  Rows() = default;
  explicit Rows(PGresult* r) noexcept : r_(r) {
    // nop
  }
  ~Rows() {
    PQclear(r_);
  }
  Rows(Rows&& other) noexcept : r_(other.r_) {
    other.r_ = nullptr;
  }
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  /// PGRES_FATAL_ERROR when there is no result (out of memory, connection lost).
  ExecStatusType status() const noexcept {
    return r_ ? PQresultStatus(r_) : PGRES_FATAL_ERROR;
  }
  const PGresult* raw() const noexcept {
    return r_;
  }
  int size() const noexcept {
    return r_ ? PQntuples(r_) : 0;
  }
  bool null(int row, int col) const noexcept {
    return PQgetisnull(r_, row, col) != 0;
  }
  std::string text(int row, int col) const;
  /// A bigint (or smallint) column; 0 for NULL.
  std::int64_t integer(int row, int col) const noexcept;
  /// A boolean column.
  bool boolean(int row, int col) const noexcept;
  /// Rows the statement changed (INSERT, UPDATE, DELETE).
  std::int64_t changed() const noexcept;

private:
  PGresult* r_ = nullptr;
};

class Connection {
public:
  /// Does not connect yet: see open_or_throw and ensure. `lease` bounds how long anything
  /// on the connection may wait (see connect).
  Connection(std::string conninfo, std::chrono::milliseconds connect_timeout,
             std::chrono::milliseconds lease);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Connects now; throws std::runtime_error naming the server (host:port) and libpq's
  /// reason (unreachable, login refused).
  void open_or_throw();

  /// Connected, or reconnects now; an Error (store_failed) naming `what` while the server
  /// cannot be reached, and at once during the backoff after a failed attempt. A connection
  /// idle for a second is checked first (an empty query): libpq only notices a restarted
  /// server when a statement fails, and the first statement of a batch must not be the one.
  Result<void> ensure(std::string_view what);

  /// Runs `sql` with text parameters (nullptr: SQL NULL); an Error (store_failed) naming
  /// `what` with the server's message if it fails. A broken connection is closed, so the
  /// next `ensure` reconnects.
  Result<Rows> exec(std::string_view what, const char* sql,
                    const std::vector<const char*>& params = {});
  Result<Rows> exec(std::string_view what, const char* sql,
                    std::initializer_list<const char*> params) {
    return exec(what, sql, std::vector<const char*>(params));
  }

  /// Runs `body` in a transaction (BEGIN `mode`): committed if it succeeds, rolled back
  /// otherwise. Success only when COMMIT succeeded.
  template <class F>
  Result<void> transaction(F&& body, const char* mode = "BEGIN") {
    if (auto ok = exec("begin a transaction", mode); !ok)
      return ok.error();
    Result<void> r = body();
    if (r) {
      if (auto ok = exec("commit", "COMMIT"); ok)
        return r;
      else
        r = ok.error();
    }
    if (connected()) {
      auto failed_with = sqlstate_; // what failed, not the ROLLBACK
      (void) exec("roll back", "ROLLBACK");
      sqlstate_ = std::move(failed_with);
    }
    return r;
  }

  bool connected() const noexcept {
    return conn_ && PQstatus(conn_) == CONNECTION_OK;
  }
  /// The SQLSTATE of the last failed statement ("" if the connection broke instead, or the
  /// last statement succeeded); after a failed `transaction`, of the statement that failed.
  const std::string& last_sqlstate() const noexcept {
    return sqlstate_;
  }
  /// The server as "host:port", for messages.
  std::string server() const;

private:
  /// One attempt; on failure the reason (libpq's message) and the connection is closed.
  bool connect(std::string& why);
  /// Prepares `sql` on this connection unless it is; false (and the server's answer in
  /// `failure`) if it cannot be.
  bool prepare(const char* sql, int params, Rows& failure);
  void close() noexcept;

  std::string conninfo_;
  std::string timeout_; // whole seconds, as libpq's connect_timeout wants them
  std::string keepalive_idle_;   // seconds
  std::string tcp_user_timeout_; // ms
  std::string server_options_;   // -c settings sent with the connection
  std::chrono::steady_clock::time_point last_ok_{}; // the last statement that succeeded
  PGconn* conn_ = nullptr;
  std::unordered_map<const char*, std::string> prepared_; // SQL text -> statement name
  std::string sqlstate_;
  std::string down_why_; // why the last attempt failed, repeated during the backoff
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
};

/// True for a SQLSTATE that blames the data (class 22, data exception, and 23, integrity
/// constraint violation): retrying other work without it can succeed.
bool is_data_error(std::string_view sqlstate) noexcept;

/// A text[] literal for an array parameter: every element double-quoted with \ and "
/// escaped. Text with a NUL byte cannot be passed (see has_nul).
class TextArray {
public:
  void add(std::string_view s);
  void add_null();
  /// The literal, "{...}".
  const char* c_str();

private:
  std::string out_ = "{";
  bool closed_ = false;
};

/// A bigint[] (or smallint[]) literal.
class IntArray {
public:
  void add(std::int64_t v);
  void add_null();
  const char* c_str();

private:
  std::string out_ = "{";
  bool closed_ = false;
};

/// True if `s` holds a NUL byte, which PostgreSQL's text cannot store.
inline bool has_nul(std::string_view s) noexcept {
  return s.find('\0') != std::string_view::npos;
}

} // namespace agentrt::detail::postgres
