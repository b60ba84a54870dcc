#include "stores/postgres/connection.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace agentrt::detail::postgres {

namespace {

constexpr auto min_backoff = std::chrono::milliseconds(50);
constexpr auto max_backoff = std::chrono::seconds(2);

/// libpq's messages end with a newline (and may have several lines): one line for ours.
std::string one_line(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s.empty() ? "unknown error" : s;
}

Error failed(std::string_view what, const std::string& why) {
  return Error{errc::store_failed, "postgresql: " + std::string{what} + " failed: " + why};
}

/// The `options` the conninfo itself gives (e.g. "-c search_path=app"), with a trailing
/// space, so the timeouts are added to them rather than replacing them.
std::string own_options(const std::string& conninfo) {
  std::string out;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), nullptr);
  for (auto* o = opts; o && o->keyword; ++o)
    if (o->val && *o->val && std::string_view{o->keyword} == "options")
      out = std::string{o->val} + " ";
  PQconninfoFree(opts);
  return out;
}

} // namespace

Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    PQclear(r_);
    r_ = other.r_;
    other.r_ = nullptr;
  }
  return *this;
}

std::string Rows::text(int row, int col) const {
  return std::string{PQgetvalue(r_, row, col),
                     static_cast<std::size_t>(PQgetlength(r_, row, col))};
}

std::int64_t Rows::integer(int row, int col) const noexcept {
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}

bool Rows::boolean(int row, int col) const noexcept {
  return PQgetvalue(r_, row, col)[0] == 't';
}

std::int64_t Rows::changed() const noexcept {
  return std::strtoll(PQcmdTuples(r_), nullptr, 10);
}

Connection::Connection(std::string conninfo, std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds lease)
  : conninfo_(std::move(conninfo)) {
  // libpq takes whole seconds and treats 1 as 2: round up, at least 2.
  auto secs = (connect_timeout.count() + 999) / 1000;
  timeout_ = std::to_string(std::max<long long>(2, secs));
  // Nothing waits longer than about a lease. A claim queued behind a frozen node's locks
  // gives up (lock_timeout) instead of holding a worker; a frozen or cut-off node's open
  // transaction is ended by the server (idle_in_transaction_session_timeout), releasing its
  // locks; a dead peer is noticed by TCP within a lease (keepalives, tcp_user_timeout), so
  // no call waits hours on a half-open connection.
  auto ms = lease.count();
  auto at_least = [](long long v, long long min) { return std::to_string(std::max(v, min)); };
  keepalive_idle_ = at_least(ms / 3000, 1);
  tcp_user_timeout_ = at_least(ms, 1000);
  server_options_ = own_options(conninfo_) + "-c lock_timeout=" + at_least(ms / 4, 100)
                    + " -c statement_timeout=" + at_least(ms, 1000)
                    + " -c idle_in_transaction_session_timeout=" + at_least(ms, 1000);
}

Connection::~Connection() {
  close();
}

void Connection::close() noexcept {
  PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear(); // a new connection has none
}

bool Connection::prepare(const char* sql, int params, Rows& failure) {
  if (prepared_.count(sql))
    return true;
  auto name = "s" + std::to_string(prepared_.size());
  Rows r{PQprepare(conn_, name.c_str(), sql, params, nullptr)};
  if (r.status() != PGRES_COMMAND_OK) {
    failure = std::move(r);
    return false;
  }
  prepared_.emplace(sql, std::move(name));
  return true;
}

bool Connection::connect(std::string& why) {
  close();
  // Entries after the expanded dbname (the conninfo) override it: the option's timeout
  // wins over one in the conninfo.
  const char* keys[] = {"dbname",           "connect_timeout",        "application_name",
                        "keepalives",       "keepalives_idle",        "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout",       "options",
                        nullptr};
  const char* values[] = {conninfo_.c_str(), timeout_.c_str(),         "agentrt",
                          "1",               keepalive_idle_.c_str(),  "1",
                          "3",               tcp_user_timeout_.c_str(), server_options_.c_str(),
                          nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (connected()) {
    // Notices (e.g. "relation already exists, skipping") would go to stderr: nobody asked.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    return true;
  }
  why = conn_ ? one_line(PQerrorMessage(conn_)) : "out of memory";
  return false;
}

void Connection::open_or_throw() {
  std::string why;
  if (!connect(why)) {
    auto where = server();
    close();
    throw std::runtime_error("agentrt: cannot connect to the PostgreSQL session store at "
                             + where + ": " + why);
  }
}

Result<void> Connection::ensure(std::string_view what) {
  if (connected() && std::chrono::steady_clock::now() - last_ok_ > std::chrono::seconds(1)) {
    Rows ping{PQexec(conn_, "")};
    if (ping.status() == PGRES_EMPTY_QUERY)
      last_ok_ = std::chrono::steady_clock::now();
    else
      close(); // reconnect below, at once
  }
  if (connected())
    return {};
  auto now = std::chrono::steady_clock::now();
  if (now < retry_at_)
    return failed(what, "the server cannot be reached (next attempt in "
                          + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             retry_at_ - now)
                                             .count())
                          + " ms): " + down_why_);
  if (std::string why; !connect(why)) {
    // Doubling from 50 ms to 2 s: a restarting server is found again quickly, a down one
    // costs each caller one fast failure instead of a connect attempt.
    backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(min_backoff),
                          std::chrono::milliseconds(max_backoff));
    retry_at_ = std::chrono::steady_clock::now() + backoff_;
    down_why_ = why;
    close();
    return failed(what, "cannot connect to " + server() + ": " + why);
  }
  backoff_ = std::chrono::milliseconds(0);
  last_ok_ = std::chrono::steady_clock::now();
  return {};
}

Result<Rows> Connection::exec(std::string_view what, const char* sql,
                              const std::vector<const char*>& params) {
  sqlstate_.clear();
  if (!conn_)
    return failed(what, "not connected");
  auto n = static_cast<int>(params.size());
  Rows rows;
  if (n == 0) // BEGIN, COMMIT: nothing to plan
    rows = Rows{PQexecParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0)};
  else if (prepare(sql, n, rows))
    rows = Rows{PQexecPrepared(conn_, prepared_.at(sql).c_str(), n, params.data(), nullptr,
                               nullptr, 0)};
  if (rows.status() == PGRES_COMMAND_OK || rows.status() == PGRES_TUPLES_OK) {
    last_ok_ = std::chrono::steady_clock::now();
    return rows;
  }
  auto why = one_line(rows.raw() ? PQresultErrorMessage(rows.raw()) : PQerrorMessage(conn_));
  if (const char* state = rows.raw() ? PQresultErrorField(rows.raw(), PG_DIAG_SQLSTATE) : nullptr)
    sqlstate_ = state;
  if (PQstatus(conn_) != CONNECTION_OK) {
    // Lost (the server stopped or restarted): the next call reconnects at once, and backs
    // off only if that fails.
    close();
    retry_at_ = {};
  }
  return failed(what, why);
}

std::string Connection::server() const {
  if (conn_) {
    std::string host = PQhost(conn_) ? PQhost(conn_) : "";
    std::string port = PQport(conn_) ? PQport(conn_) : "";
    if (!host.empty())
      return host + ":" + port;
  }
  // No connection object: the conninfo, less any password.
  PQconninfoOption* opts = PQconninfoParse(conninfo_.c_str(), nullptr);
  std::string host = "localhost", port = "5432";
  for (auto* o = opts; o && o->keyword; ++o) {
    if (!o->val)
      continue;
    if (std::string_view{o->keyword} == "host")
      host = o->val;
    else if (std::string_view{o->keyword} == "port")
      port = o->val;
  }
  PQconninfoFree(opts);
  return host + ":" + port;
}

bool is_data_error(std::string_view sqlstate) noexcept {
  return sqlstate.size() == 5 && (sqlstate.substr(0, 2) == "22" || sqlstate.substr(0, 2) == "23");
}

void TextArray::add(std::string_view s) {
  if (out_.size() > 1)
    out_ += ',';
  out_ += '"';
  for (char c : s) {
    if (c == '"' || c == '\\')
      out_ += '\\';
    out_ += c;
  }
  out_ += '"';
}

void TextArray::add_null() {
  if (out_.size() > 1)
    out_ += ',';
  out_ += "NULL";
}

const char* TextArray::c_str() {
  if (!closed_) {
    out_ += '}';
    closed_ = true;
  }
  return out_.c_str();
}

void IntArray::add(std::int64_t v) {
  if (out_.size() > 1)
    out_ += ',';
  out_ += std::to_string(v);
}

void IntArray::add_null() {
  if (out_.size() > 1)
    out_ += ',';
  out_ += "NULL";
}

const char* IntArray::c_str() {
  if (!closed_) {
    out_ += '}';
    closed_ = true;
  }
  return out_.c_str();
}

} // namespace agentrt::detail::postgres
