// Request files written by hand or by an agency system: a referral, a
// summary or a record, as a protobuf message in text format.
#ifndef LIAISON_BROKER_BASICS_REQUEST_FILE_H_
#define LIAISON_BROKER_BASICS_REQUEST_FILE_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/statusor.h"

namespace liaison {

// Reads `path` into `request`, a message in protobuf text format, and
// returns the lower-case hex SHA-256 of the file's bytes: the same file
// always gives the same digest, so it serves as an idempotency key that
// makes sending the file again a safe retry. NOT_FOUND or
// PERMISSION_DENIED when the file cannot be read; INVALID_ARGUMENT when it
// does not parse, with one line "PATH:LINE:COLUMN: message" per problem
// (line and column from 1), the form editors and compilers use.
absl::StatusOr<std::string> ReadRequestFile(const std::string& path,
                                            google::protobuf::Message* request);

}  // namespace liaison

#endif  // LIAISON_BROKER_BASICS_REQUEST_FILE_H_
