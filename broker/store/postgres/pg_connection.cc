#include "broker/store/postgres/pg_connection.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace liaison::pg {

std::string Result::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     PQgetlength(result_.get(), row, column));
}

int64_t Result::Int(int row, int column) const {
  int64_t value = 0;
  if (!absl::SimpleAtoi(PQgetvalue(result_.get(), row, column), &value)) {
    return 0;
  }
  return value;
}

std::string Result::Bytes(int row, int column) const {
  size_t length = 0;
  unsigned char* bytes =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(
                          PQgetvalue(result_.get(), row, column)),
                      &length);
  if (bytes == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

int64_t Result::Affected() const {
  int64_t n = 0;
  if (!absl::SimpleAtoi(PQcmdTuples(result_.get()), &n)) return 0;
  return n;
}

absl::Status StatusFromSqlState(absl::string_view sqlstate,
                                absl::string_view message) {
  const std::string text =
      absl::StrCat("PostgreSQL: ", absl::StripTrailingAsciiWhitespace(message),
                   sqlstate.empty() ? "" : absl::StrCat(" (", sqlstate, ")"));
  if (sqlstate == "23505") return absl::AlreadyExistsError(text);
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return absl::AbortedError(text);
  }
  if (sqlstate == "25006") return absl::FailedPreconditionError(text);
  // Class 08: connection exceptions; 57P0x: the server is shutting down or
  // cannot be reached; no SQLSTATE at all: libpq lost the connection.
  if (sqlstate.empty() || absl::StartsWith(sqlstate, "08") ||
      absl::StartsWith(sqlstate, "57P")) {
    return absl::UnavailableError(text);
  }
  return absl::InternalError(text);
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) {
    return absl::ResourceExhaustedError(
        "libpq could not allocate a connection");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message =
        absl::StrCat("cannot connect to PostgreSQL: ",
                     absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    return absl::UnavailableError(message);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { PQfinish(conn_); }

absl::StatusOr<Result> Connection::Check(PGresult* result,
                                         absl::string_view sql) {
  const ExecStatusType status =
      result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return Result(result);
  }
  const char* state =
      result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message = result && *PQresultErrorMessage(result)
                                  ? PQresultErrorMessage(result)
                                  : PQerrorMessage(conn_);
  if (result != nullptr) PQclear(result);
  absl::Status s = StatusFromSqlState(state ? state : "", message);
  if (!ok() || absl::IsUnavailable(s)) {
    lost_ = true;
    s = absl::UnavailableError(s.message());
  }
  return absl::Status(s.code(),
                      absl::StrCat(s.message(), " in: ", sql.substr(0, 80)));
}

absl::Status Connection::Exec(absl::string_view sql) {
  const std::string text(sql);
  return Check(PQexec(conn_, text.c_str()), sql).status();
}

namespace {

// libpq's arrays for `params`, which must outlive them.
struct ParamArrays {
  explicit ParamArrays(const std::vector<Param>& params) {
    values.reserve(params.size());
    for (const Param& p : params) {
      values.push_back(p.null() ? nullptr : p.value().data());
      lengths.push_back(static_cast<int>(p.value().size()));
      formats.push_back(p.format());
    }
  }
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
};

}  // namespace

absl::StatusOr<Result> Connection::Run(absl::string_view sql,
                                       const std::vector<Param>& params) {
  const std::string text(sql);
  auto it = prepared_.find(text);
  if (it == prepared_.end()) {
    const std::string name = absl::StrCat("s", prepared_.size());
    absl::Status s = Check(PQprepare(conn_, name.c_str(), text.c_str(),
                                     static_cast<int>(params.size()), nullptr),
                           sql)
                         .status();
    if (!s.ok()) return s;
    it = prepared_.emplace(text, name).first;
  }
  const ParamArrays arrays(params);
  return Check(
      PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                     arrays.values.data(), arrays.lengths.data(),
                     arrays.formats.data(), /*resultFormat=*/0),
      sql);
}

absl::StatusOr<Result> Connection::RunOnce(absl::string_view sql,
                                           const std::vector<Param>& params) {
  const std::string text(sql);
  const ParamArrays arrays(params);
  return Check(
      PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()),
                   nullptr, arrays.values.data(), arrays.lengths.data(),
                   arrays.formats.data(), /*resultFormat=*/0),
      sql);
}

}  // namespace liaison::pg
