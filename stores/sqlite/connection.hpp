#pragma once

// Connection and Statement: RAII over a SQLite connection and its prepared statements.
//
// Thread-safety: none; the store serializes use of a connection with its own mutex.

#include <agentrt/result.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace agentrt::detail::sqlite {

/// SQLite's result codes as std::error_code.
const std::error_category& category() noexcept;
std::error_code error(int rc) noexcept;
/// True for SQLITE_CONSTRAINT and its extended codes.
bool is_constraint(const std::error_code& ec) noexcept;

class Connection {
public:
  /// Opens (creating) `path`; throws std::runtime_error naming the file and the problem.
  explicit Connection(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const noexcept {
    return db_;
  }
  const std::string& path() const noexcept {
    return path_;
  }

  /// Runs `sql` (no results); returns SQLite's code.
  int exec(const char* sql) noexcept;
  /// Runs `sql`; throws std::runtime_error "cannot <what>" with SQLite's message.
  void exec_or_throw(const char* sql, const char* what);
  /// Rows changed by the last statement.
  int changes() const noexcept;
  std::string last_error() const;

  /// Runs `body` in a write transaction: committed if it succeeds, rolled back otherwise.
  template <class F>
  Result<void> transaction(F&& body) {
    if (int rc = exec("BEGIN IMMEDIATE"); rc != SQLITE_OK)
      return failure(rc, "begin a transaction");
    Result<void> r = body();
    if (r) {
      if (int rc = exec("COMMIT"); rc == SQLITE_OK)
        return r;
      else
        r = failure(rc, "commit");
    }
    exec("ROLLBACK");
    return r;
  }

  /// An Error for SQLite's `rc` while trying to `what`, with SQLite's message.
  Error failure(int rc, const char* what) const;

private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

/// A prepared statement. Each use binds every parameter, steps, and resets (see Use).
class Statement {
public:
  /// Throws std::runtime_error if `sql` cannot be prepared.
  Statement(Connection& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// The text must stay alive until the statement is reset (it is not copied).
  Statement& bind(int i, std::string_view s) noexcept;
  Statement& bind(int i, std::int64_t v) noexcept;
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() noexcept;
  std::string text(int col) const;
  std::int64_t integer(int col) const noexcept;
  void reset() noexcept;

private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// One use of a statement: reset when the scope ends.
class Use {
public:
  explicit Use(Statement& s) noexcept : s_(s) {
    // nop
  }
  ~Use() {
    s_.reset();
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Statement* operator->() noexcept {
    return &s_;
  }

private:
  Statement& s_;
};

} // namespace agentrt::detail::sqlite
