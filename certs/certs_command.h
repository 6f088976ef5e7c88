// What every liaison-certs command shares: its flags, its exit codes, how
// it reports mistakes and failures, the CA folder it works on, and how a
// person names a certificate.
#ifndef LIAISON_CERTS_CERTS_COMMAND_H_
#define LIAISON_CERTS_CERTS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/basics/command_line.h"
#include "certs/ca.h"

ABSL_DECLARE_FLAG(std::string, dir);
ABSL_DECLARE_FLAG(std::string, cn);
ABSL_DECLARE_FLAG(int, days);
ABSL_DECLARE_FLAG(std::string, sector);
ABSL_DECLARE_FLAG(std::string, id);
ABSL_DECLARE_FLAG(std::string, not_before);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(bool, force);
ABSL_DECLARE_FLAG(std::vector<std::string>, dns);
ABSL_DECLARE_FLAG(std::vector<std::string>, ip);
ABSL_DECLARE_FLAG(std::string, reason);
ABSL_DECLARE_FLAG(int, expiring);

namespace liaison::certs {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kMaxDays = 36500;

// Prints `message` and where to find the usage of `command` (of the tool
// when empty) to stderr; returns kExitUsage.
int UsageError(absl::string_view message, absl::string_view command = "");

// Prints the status's message to stderr; returns kExitFailure.
int Failure(const absl::Status& status);

// --dir, else $LIAISON_CA_DIR, else "liaison-ca".
std::string CaDir();

// --days when given (1 to kMaxDays), else `fallback`.
absl::StatusOr<absl::Duration> Days(const cli::CommandLine& cl, int fallback);

// The serial a person named: a certificate file (which must be this CA's)
// or a serial in any form NormalizeSerial accepts.
absl::StatusOr<std::string> SerialOf(const CertificateAuthority& ca,
                                     const std::string& target);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_CERTS_COMMAND_H_
