// A thin C++ face on libpq for the PostgreSQL store (DESIGN.md section 7):
// one connection, statements with parameters, results by row and column,
// and PostgreSQL's errors as absl::Status codes a caller can act on.
#ifndef LIAISON_BROKER_STORE_POSTGRES_PG_CONNECTION_H_
#define LIAISON_BROKER_STORE_POSTGRES_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liaison::pg {

// A statement parameter: text (integers as decimal), bytes (sent binary,
// for bytea), or NULL.
class Param {
 public:
  static Param Text(std::string value) { return Param(std::move(value), 0); }
  static Param Int(int64_t value) { return Text(std::to_string(value)); }
  static Param Bytes(std::string value) { return Param(std::move(value), 1); }
  static Param Null() {
    Param p("", 0);
    p.null_ = true;
    return p;
  }
  const std::string& value() const { return value_; }
  int format() const { return format_; }
  bool null() const { return null_; }

 private:
  Param(std::string value, int format)
      : value_(std::move(value)), format_(format) {}
  std::string value_;
  int format_;
  bool null_ = false;
};

// A statement's rows, owned. Columns are read as text; bytea columns with
// Bytes, which undoes PostgreSQL's hex escaping.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int column) const {
    return PQgetisnull(result_.get(), row, column) != 0;
  }
  std::string Text(int row, int column) const;
  int64_t Int(int row, int column) const;
  std::string Bytes(int row, int column) const;
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;

 private:
  std::shared_ptr<PGresult> result_;
};

class Connection {
 public:
  // Connects with a libpq connection string, e.g. "host=/run/postgresql
  // dbname=liaison" or, to follow a promotion, "host=a,b
  // target_session_attrs=read-write". UNAVAILABLE, with libpq's words, when
  // no server answers as asked.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql`, one or more statements without parameters.
  absl::Status Exec(absl::string_view sql);
  // Runs one statement with `params` ($1, $2, ...), prepared on the
  // server the first time this connection runs that text: the store's
  // statements are parsed and planned once per connection, not per call.
  absl::StatusOr<Result> Run(absl::string_view sql,
                             const std::vector<Param>& params = {});
  // Runs a statement built for one call (a filter's WHERE clause, say)
  // without preparing it, so such statements do not pile up.
  absl::StatusOr<Result> RunOnce(absl::string_view sql,
                                 const std::vector<Param>& params = {});

  // False once the server is gone; a broken connection is not reused.
  // Also false after a statement failed for a lost connection (libpq may
  // still report it OK until it next reads the socket).
  bool ok() const { return !lost_ && PQstatus(conn_) == CONNECTION_OK; }
  // For LISTEN/NOTIFY and other libpq calls the wrapper does not cover.
  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  absl::StatusOr<Result> Check(PGresult* result, absl::string_view sql);
  PGconn* conn_;
  bool lost_ = false;
  // Statement text to the name it was prepared under.
  absl::flat_hash_map<std::string, std::string> prepared_;
};

// The status for a failed statement, by SQLSTATE: ALREADY_EXISTS for a
// unique violation, ABORTED for a serialization failure or deadlock (retry
// the transaction), UNAVAILABLE when the connection or server is lost (a
// commit's outcome is then unknown), FAILED_PRECONDITION for a read-only
// server (a standby), INTERNAL otherwise.
absl::Status StatusFromSqlState(absl::string_view sqlstate,
                                absl::string_view message);

}  // namespace liaison::pg

#endif  // LIAISON_BROKER_STORE_POSTGRES_PG_CONNECTION_H_
