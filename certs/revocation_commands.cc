#include "certs/revocation_commands.h"

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "broker/basics/time_format.h"
#include "certs/ca.h"
#include "certs/certs_command.h"

namespace liaison::certs {

using cli::CommandLine;

int RunRevoke(const CommandLine& cl) {
  if (cl.positional.size() < 2) {
    return UsageError("revoke needs the SERIAL or CERT_FILE to revoke",
                      "revoke");
  }
  if (cl.positional.size() > 2) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[2], "\""),
        "revoke");
  }
  const std::string& target = cl.positional[1];
  absl::StatusOr<RevocationReason> reason =
      ParseRevocationReason(absl::GetFlag(FLAGS_reason));
  if (!reason.ok()) return UsageError(reason.status().message(), "revoke");
  const std::string dir = CaDir();
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(dir);
  if (!ca.ok()) return Failure(ca.status());

  absl::StatusOr<std::string> serial = SerialOf(*ca, target);
  if (!serial.ok()) return Failure(serial.status());
  absl::StatusOr<IndexEntry> revoked =
      ca->Revoke(*serial, *reason, absl::Now());
  if (!revoked.ok()) return Failure(revoked.status());
  std::cout << "revoked: " << revoked->serial << " " << revoked->principal
            << " (reason " << ReasonName(revoked->reason) << ")\n"
            << "Run `liaison-certs --dir=" << dir
            << " crl` and install the new CRL for the broker; until then "
               "the certificate is still accepted.\n";
  return 0;
}

int RunCrl(const CommandLine& cl) {
  if (cl.positional.size() > 1) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[1], "\""), "crl");
  }
  absl::StatusOr<absl::Duration> next_update = Days(cl, 7);
  if (!next_update.ok()) {
    return UsageError(next_update.status().message(), "crl");
  }
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(CaDir());
  if (!ca.ok()) return Failure(ca.status());
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) out = ca->crl_path();
  absl::StatusOr<CrlSummary> crl = ca->WriteCrl(out, absl::Now(), *next_update);
  if (!crl.ok()) return Failure(crl.status());
  std::cout << "crl: " << out << "\n"
            << "number: " << crl->number << "\n"
            << "revoked: " << crl->revoked << "\n"
            << "next_update: " << Rfc3339(crl->next_update) << "\n";
  return 0;
}

}  // namespace liaison::certs
