#include "certs/certs_command.h"

#include <sys/stat.h>

#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/x509.h"

ABSL_FLAG(std::string, dir, "",
          "CA directory (default $LIAISON_CA_DIR, else ./liaison-ca)");
ABSL_FLAG(std::string, cn, "Liaison deployment CA", "init: CA common name");
ABSL_FLAG(int, days, 0, "validity or CRL lifetime in days");
ABSL_FLAG(std::string, sector, "", "issue agency: the agency's sector");
ABSL_FLAG(std::string, id, "", "issue: the principal's id");
ABSL_FLAG(std::string, not_before, "", "issue: start of validity, RFC 3339");
ABSL_FLAG(std::string, out, "", "issue: output folder; crl: output file");
ABSL_FLAG(bool, force, false, "issue: replace existing files");
ABSL_FLAG(std::vector<std::string>, dns, {}, "issue server: DNS names");
ABSL_FLAG(std::vector<std::string>, ip, {}, "issue server: IP addresses");
ABSL_FLAG(std::string, reason, "unspecified", "revoke: revocation reason");
ABSL_FLAG(int, expiring, 30,
          "list: only certificates expiring within N days (bare --expiring: "
          "30)");

namespace liaison::certs {

using cli::CommandLine;

int UsageError(absl::string_view message, absl::string_view command) {
  std::cerr << "liaison-certs: " << message << "\n"
            << "Run `liaison-certs help" << (command.empty() ? "" : " ")
            << command << "` for usage.\n";
  return kExitUsage;
}

int Failure(const absl::Status& status) {
  std::cerr << "liaison-certs: " << status.message() << "\n";
  return kExitFailure;
}

std::string CaDir() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (!dir.empty()) return dir;
  const char* env = std::getenv("LIAISON_CA_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "liaison-ca";
}

absl::StatusOr<absl::Duration> Days(const CommandLine& cl, int fallback) {
  if (cl.flags.count("days") == 0) return absl::Hours(24) * fallback;
  const int days = absl::GetFlag(FLAGS_days);
  if (days < 1 || days > kMaxDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("--days must be between 1 and ", kMaxDays));
  }
  return absl::Hours(24) * days;
}

absl::StatusOr<std::string> SerialOf(const CertificateAuthority& ca,
                                     const std::string& target) {
  struct stat st;
  if (::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    ASSIGN_OR_RETURN(x509::CertPtr cert, x509::ReadCertificateFile(target));
    if (!ca.IsIssuerOf(cert.get())) {
      return absl::InvalidArgumentError(
          absl::StrCat(target, " was not issued by the CA in ", ca.dir()));
    }
    return x509::SerialHex(cert.get());
  }
  absl::StatusOr<std::string> normalized = x509::NormalizeSerial(target);
  if (!normalized.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", target,
        "\" is neither a certificate file nor a serial (hexadecimal, as "
        "`liaison-certs list` prints it)"));
  }
  return *normalized;
}

}  // namespace liaison::certs
