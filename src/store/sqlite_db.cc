#include "store/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <utility>

#include "core/error.h"

namespace ptq {

namespace {

constexpr int kBusyTimeoutMs = 10'000;

// The statement as it appears in an error message: whitespace collapsed, at most 120 characters.
std::string short_sql(const std::string& sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > 120) out = out.substr(0, 117) + "...";
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Database

Database::Database(const std::string& path, bool create) : path_(path) {
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    PTQ_FAIL("{}: cannot open the results store: {}", path_, msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // journal_mode returns a row (the mode now in effect); a file that is not SQLite fails here.
    Statement wal(*this, "PRAGMA journal_mode=WAL");
    wal.step();
    exec("PRAGMA foreign_keys=ON");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

Database::Database(Database&& other) noexcept : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    fail_message(sql, msg);
  }
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int64_t Database::changes() const { return sqlite3_changes(db_); }

void Database::fail(const std::string& sql, int rc) const {
  fail_message(sql, db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
}

void Database::fail_message(const std::string& sql, const std::string& message) const {
  PTQ_FAIL("{}: {}: {}", path_, short_sql(sql), message);
}

// ---------------------------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Database& db, std::string sql) : db_(db), sql_(std::move(sql)) {
  const int rc = sqlite3_prepare_v2(db_.handle(), sql_.c_str(), static_cast<int>(sql_.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) db_.fail(sql_, rc);
  PTQ_ASSERT(stmt_ != nullptr, "{}: empty statement", short_sql(sql_));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK) db_.fail(sql_, rc);
}

int Statement::param(const char* name) const {
  const int i = sqlite3_bind_parameter_index(stmt_, name);
  if (i == 0) db_.fail_message(sql_, fmt::format("no parameter named {}", name));
  return i;
}

Statement& Statement::bind(int index, int64_t v) {
  check_bind(sqlite3_bind_int64(stmt_, index, v));
  return *this;
}

Statement& Statement::bind(int index, double v) {
  check_bind(std::isnan(v) ? sqlite3_bind_null(stmt_, index) : sqlite3_bind_double(stmt_, index, v));
  return *this;
}

Statement& Statement::bind(int index, const std::string& v) {
  check_bind(sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement& Statement::bind_json(int index, const nlohmann::json& v) {
  if (v.is_null()) return bind_null(index);
  return bind(index, v.dump());
}

Statement& Statement::bind_text_or_null(int index, const std::string& v) {
  return v.empty() ? bind_null(index) : bind(index, v);
}

Statement& Statement::bind_opt(int index, const std::optional<int64_t>& v) {
  return v ? bind(index, *v) : bind_null(index);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string msg = sqlite3_errmsg(db_.handle());
  sqlite3_reset(stmt_);
  db_.fail_message(sql_, msg);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::column_double(int col) const {
  return is_null(col) ? std::numeric_limits<double>::quiet_NaN() : sqlite3_column_double(stmt_, col);
}

std::string Statement::column_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

nlohmann::json Statement::column_json(int col) const {
  if (is_null(col)) return nullptr;
  const std::string text = column_text(col);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    db_.fail_message(sql_, fmt::format("column {} is not valid JSON: {}", sqlite3_column_name(stmt_, col), e.what()));
  }
}

std::optional<int64_t> Statement::column_opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int64(col);
}

// ---------------------------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace ptq
