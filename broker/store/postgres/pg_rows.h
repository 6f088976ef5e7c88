// Small conversions the PostgreSQL store's tables share: stored messages,
// times and flags as the schema keeps them.
#ifndef LIAISON_BROKER_STORE_POSTGRES_PG_ROWS_H_
#define LIAISON_BROKER_STORE_POSTGRES_PG_ROWS_H_

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/store/postgres/pg_connection.h"

namespace liaison::pg {

// A message stored as bytes; DATA_LOSS naming `what` when it does not parse.
template <typename Message>
absl::StatusOr<Message> Parse(const std::string& bytes,
                              absl::string_view what) {
  Message m;
  if (!m.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("stored ", what, " cannot be parsed"));
  }
  return m;
}

// Times are microseconds since the Unix epoch; the infinite future is the
// largest.
inline Param TimeParam(absl::Time t) {
  if (t == absl::InfiniteFuture()) {
    return Param::Int(std::numeric_limits<int64_t>::max());
  }
  return Param::Int(absl::ToUnixMicros(t));
}

inline Param BoolParam(bool b) { return Param::Text(b ? "true" : "false"); }
// A BOOLEAN column as libpq's text format gives it.
inline bool Bool(const Result& r, int row, int column) {
  return r.Text(row, column) == "t";
}

}  // namespace liaison::pg

#endif  // LIAISON_BROKER_STORE_POSTGRES_PG_ROWS_H_
