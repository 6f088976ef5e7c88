// Internal to the SQLite store: prepared statements with positional
// binding, and SQLite errors as Status. Not part of the Store interface.
#ifndef LIAISON_BROKER_STORE_SQLITE_SQLITE_QUERY_H_
#define LIAISON_BROKER_STORE_SQLITE_SQLITE_QUERY_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/basics/status_macros.h"

namespace liaison::sqlite {

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

inline absl::Status SqlError(sqlite3* db, absl::string_view what) {
  const int code = sqlite3_extended_errcode(db) & 0xff;
  std::string message = absl::StrCat(what, ": ", sqlite3_errmsg(db));
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return absl::UnavailableError(message);
  }
  if (code == SQLITE_FULL || code == SQLITE_IOERR) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

// A prepared statement with positional binding: Bind(1, x).Bind(2, y).
class Query {
 public:
  static absl::StatusOr<Query> Prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return SqlError(db, "prepare");
    }
    return Query(db, Stmt(stmt));
  }
  Query& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Query& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_.get(), i, v);
    return *this;
  }
  Query& Bind(int i, absl::Time t) { return Bind(i, absl::ToUnixMicros(t)); }
  Query& BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_.get(), i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  // Ready to bind and step again.
  Query& Reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    return *this;
  }
  // True for a row, false when done.
  absl::StatusOr<bool> Step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(db_, "step");
  }
  absl::Status Run() {
    ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return absl::OkStatus();
  }
  std::string Text(int i) const {
    const unsigned char* t = sqlite3_column_text(stmt_.get(), i);
    return t == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(t));
  }
  std::string Blob(int i) const {
    const void* b = sqlite3_column_blob(stmt_.get(), i);
    return b == nullptr ? std::string()
                        : std::string(static_cast<const char*>(b),
                                      sqlite3_column_bytes(stmt_.get(), i));
  }
  int64_t Int(int i) const { return sqlite3_column_int64(stmt_.get(), i); }
  // Rows the last INSERT, UPDATE or DELETE on this connection changed.
  int64_t Changes() const { return sqlite3_changes(db_); }
  bool IsNull(int i) const {
    return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL;
  }

 private:
  Query(sqlite3* db, Stmt stmt) : db_(db), stmt_(std::move(stmt)) {}
  sqlite3* db_;
  Stmt stmt_;
};

// The statements of one connection, each prepared on first use and reused
// after: parsing SQL was a sixth of the commit thread's time. Keyed by the
// SQL literal's address, so pass string literals. A Use resets its
// statement when it goes out of scope, so none is left active across a
// savepoint's rollback; two Uses of the same SQL must not overlap. For one
// thread only.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}

  class Use {
   public:
    explicit Use(Query* q) : q_(q) {}
    Use(Use&& other) noexcept : q_(other.q_) { other.q_ = nullptr; }
    Use& operator=(Use&&) = delete;
    Use(const Use&) = delete;
    ~Use() {
      if (q_ != nullptr) q_->Reset();
    }
    Query* operator->() const { return q_; }
    Query& operator*() const { return *q_; }

   private:
    Query* q_;
  };

  absl::StatusOr<Use> Get(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      ASSIGN_OR_RETURN(Query q, Query::Prepare(db_, sql));
      it =
          statements_.emplace(sql, std::make_unique<Query>(std::move(q))).first;
    }
    return Use(it->second.get());
  }

 private:
  sqlite3* const db_;
  std::unordered_map<const char*, std::unique_ptr<Query>> statements_;
};

template <typename Message>
absl::StatusOr<Message> ParseBlob(const std::string& blob,
                                  absl::string_view what) {
  Message m;
  if (!m.ParseFromString(blob)) {
    return absl::DataLossError(
        absl::StrCat("stored ", what, " cannot be parsed"));
  }
  return m;
}

}  // namespace liaison::sqlite

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_QUERY_H_
