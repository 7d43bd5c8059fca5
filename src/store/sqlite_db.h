// One SQLite connection and its statements, as the results store uses them.
//   Database     one sqlite3 connection (RAII): creates the file, PRAGMA journal_mode=WAL, busy_timeout 10 s,
//                foreign_keys=ON. Every sqlite error becomes a ptq::Error naming the file and the statement:
//                "results/x.db: INSERT INTO runs ...: UNIQUE constraint failed: runs.run_key".
//   Statement    a prepared statement; values are only ever bound (by index from 1, or by ":name"), never spliced
//                into SQL text.
//   Transaction  BEGIN IMMEDIATE (takes the write lock up front, waiting up to busy_timeout for other writers);
//                commit(); the destructor rolls back unless committed.
//
// Values: SQLite has no NaN (a bound NaN is stored as NULL), so NULL in a REAL value column means NaN and reads
// back as NaN; ±inf round-trip. JSON columns hold nlohmann::json::dump() text (NaN inside JSON becomes null);
// a JSON null is stored as SQL NULL.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace ptq {

class Database {
 public:
  // Opens `path`, creating it (and nothing else: the parent folder must exist) when create is true.
  explicit Database(const std::string& path, bool create = true);
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) = delete;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs fixed SQL text (schema, pragmas; one or more statements) that carries no values.
  void exec(const std::string& sql);
  int64_t last_insert_rowid() const;
  int64_t changes() const;  // rows changed by the last INSERT/UPDATE/DELETE

  // Throws the ptq::Error for sqlite result code rc raised while running `sql`:
  // "<path>: <sql, first 120 characters>: <sqlite message>".
  [[noreturn]] void fail(const std::string& sql, int rc) const;
  [[noreturn]] void fail_message(const std::string& sql, const std::string& message) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Database& db, std::string sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by 1-based index or by name (":run_key"); return *this to chain.
  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, double v);  // NaN is stored as NULL (SQLite has no NaN)
  Statement& bind(int index, const std::string& v);
  Statement& bind(int index, const char* v) { return bind(index, std::string(v)); }
  Statement& bind_null(int index);
  Statement& bind_json(int index, const nlohmann::json& v);       // null -> NULL, else v.dump()
  Statement& bind_text_or_null(int index, const std::string& v);  // "" -> NULL
  Statement& bind_opt(int index, const std::optional<int64_t>& v);
  template <class T>
  Statement& bind(const char* name, T&& v) {
    return bind(param(name), std::forward<T>(v));
  }

  // Executes one step: true when a row is available, false when the statement is done.
  bool step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE), then resets it for reuse.
  void run();
  // Resets for another execution and clears the bindings.
  void reset();

  int column_count() const;
  bool is_null(int col) const;
  int64_t column_int64(int col) const;
  double column_double(int col) const;        // NULL -> NaN
  std::string column_text(int col) const;     // NULL -> ""
  nlohmann::json column_json(int col) const;  // NULL -> json null
  std::optional<int64_t> column_opt_int64(int col) const;

  const std::string& sql() const { return sql_; }
  // The index of the parameter ":name"; an error when the statement has none.
  int param(const char* name) const;

 private:
  void check_bind(int rc);
  Database& db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Transaction {
 public:
  explicit Transaction(Database& db);  // BEGIN IMMEDIATE
  ~Transaction();                      // ROLLBACK unless committed
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace ptq
