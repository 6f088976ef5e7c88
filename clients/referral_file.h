// A referral written by hand or by an agency system as a file: a
// liaison.v1.SendReferralRequest in protobuf text format.
#ifndef LIAISON_CLIENTS_REFERRAL_FILE_H_
#define LIAISON_CLIENTS_REFERRAL_FILE_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/statusor.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison::client {

struct ReferralFile {
  // The request as written in the file.
  v1::SendReferralRequest request;
  // Lower-case hex SHA-256 of the file's bytes: the same file always gives
  // the same digest, so it serves as an idempotency key that makes sending
  // the file again a safe retry.
  std::string sha256_hex;
};

// Reads `path` into `request`, a message in protobuf text format, and
// returns the lower-case hex SHA-256 of the file's bytes. Errors as for
// ReadReferralFile.
absl::StatusOr<std::string> ReadRequestFile(const std::string& path,
                                            google::protobuf::Message* request);

// Reads and parses `path`. NOT_FOUND or PERMISSION_DENIED when the file
// cannot be read; INVALID_ARGUMENT when it does not parse, with one line
// "PATH:LINE:COLUMN: message" per problem (line and column from 1), the
// form editors and compilers use.
absl::StatusOr<ReferralFile> ReadReferralFile(const std::string& path);

}  // namespace liaison::client

#endif  // LIAISON_CLIENTS_REFERRAL_FILE_H_
