#include "stores/sqlite/connection.hpp"

#include <stdexcept>

namespace agentrt::detail::sqlite {

namespace {

class Category final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "sqlite";
  }
  std::string message(int rc) const override {
    return sqlite3_errstr(rc);
  }
};

} // namespace

const std::error_category& category() noexcept {
  static const Category c;
  return c;
}

std::error_code error(int rc) noexcept {
  return {rc, category()};
}

bool is_constraint(const std::error_code& ec) noexcept {
  return ec.category() == category() && (ec.value() & 0xff) == SQLITE_CONSTRAINT;
}

Connection::Connection(const std::string& path) : path_(path) {
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw std::runtime_error("agentrt: cannot open session store '" + path + "': " + why);
  }
}

Connection::~Connection() {
  sqlite3_close(db_);
}

int Connection::exec(const char* sql) noexcept {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}

void Connection::exec_or_throw(const char* sql, const char* what) {
  if (exec(sql) != SQLITE_OK)
    throw std::runtime_error("agentrt: session store '" + path_ + "': cannot " + what + ": "
                             + last_error());
}

int Connection::changes() const noexcept {
  return sqlite3_changes(db_);
}

std::string Connection::last_error() const {
  return sqlite3_errmsg(db_);
}

Error Connection::failure(int rc, const char* what) const {
  return Error{error(rc), std::string{"SQLite could not "} + what + ": " + sqlite3_errstr(rc)};
}

Statement::Statement(Connection& db, const char* sql) {
  if (int rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
      rc != SQLITE_OK)
    throw std::runtime_error("agentrt: session store '" + db.path()
                             + "': cannot prepare a statement: " + db.last_error());
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int i, std::string_view s) noexcept {
  sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::bind(int i, std::int64_t v) noexcept {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

int Statement::step() noexcept {
  return sqlite3_step(stmt_);
}

std::string Statement::text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string{p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))}
           : std::string{};
}

std::int64_t Statement::integer(int col) const noexcept {
  return sqlite3_column_int64(stmt_, col);
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_); // every use binds every parameter again
}

} // namespace agentrt::detail::sqlite
