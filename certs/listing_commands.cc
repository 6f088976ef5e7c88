#include "certs/listing_commands.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/principal.h"
#include "broker/basics/time_format.h"
#include "broker/basics/x509.h"
#include "certs/ca.h"
#include "certs/certs_command.h"

namespace liaison::certs {

using cli::CommandLine;

namespace {

std::string Pad(absl::string_view s, size_t width) {
  std::string out(s);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}


std::string JoinOrNone(const std::vector<std::string>& items) {
  return items.empty() ? "(none)" : absl::StrJoin(items, ", ");
}


}  // namespace

int RunList(const CommandLine& cl) {
  if (cl.positional.size() > 1) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[1], "\""), "list");
  }
  const bool expiring = cl.flags.count("expiring") != 0;
  const int expiring_days = absl::GetFlag(FLAGS_expiring);
  if (expiring && (expiring_days < 0 || expiring_days > kMaxDays)) {
    return UsageError(
        absl::StrCat("--expiring must be between 0 and ", kMaxDays), "list");
  }
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(CaDir());
  if (!ca.ok()) return Failure(ca.status());
  const absl::Time now = absl::Now();
  std::vector<IndexEntry> entries = ca->List();
  if (expiring) {
    const absl::Time horizon = now + absl::Hours(24) * expiring_days;
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const IndexEntry& e) {
                                   return e.StatusAt(now) !=
                                              CertificateStatus::kValid ||
                                          e.not_after > horizon;
                                 }),
                  entries.end());
    std::stable_sort(entries.begin(), entries.end(),
                     [](const IndexEntry& a, const IndexEntry& b) {
                       return a.not_after < b.not_after;
                     });
    if (entries.empty()) {
      std::cout << "No valid certificate expires within " << expiring_days
                << " days.\n";
      return 0;
    }
  } else if (entries.empty()) {
    std::cout << "The CA has issued no certificates yet.\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"SERIAL", "STATUS", "NOT_AFTER", "PRINCIPAL"}};
  for (const IndexEntry& e : entries) {
    rows.push_back({e.serial, std::string(StatusName(e.StatusAt(now))),
                    Rfc3339(e.not_after), e.principal});
  }
  size_t width[3] = {0, 0, 0};
  for (const auto& row : rows) {
    for (size_t i = 0; i < 3; ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::cout << Pad(row[0], width[0]) << "  " << Pad(row[1], width[1]) << "  "
              << Pad(row[2], width[2]) << "  " << row[3] << "\n";
  }
  return 0;
}

int RunInspect(const CommandLine& cl) {
  if (cl.positional.size() < 2) {
    return UsageError("inspect needs the CERT_FILE to show", "inspect");
  }
  if (cl.positional.size() > 2) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[2], "\""),
        "inspect");
  }
  const std::string& path = cl.positional[1];
  absl::StatusOr<x509::CertPtr> cert = x509::ReadCertificateFile(path);
  if (!cert.ok()) return Failure(cert.status());
  const X509* c = cert->get();
  const absl::Time now = absl::Now();
  const absl::Time not_before = x509::NotBefore(c);
  const absl::Time not_after = x509::NotAfter(c);
  std::string validity = "valid now";
  if (now > not_after) {
    validity = absl::StrCat("EXPIRED on ", Rfc3339(not_after));
  } else if (now < not_before) {
    validity =
        absl::StrCat("NOT YET VALID until ", Rfc3339(not_before));
  }
  std::cout << "file: " << path << "\n"
            << "subject: " << x509::SubjectLine(c) << "\n"
            << "issuer: " << x509::IssuerLine(c) << "\n"
            << "serial: " << x509::SerialHex(c) << "\n"
            << "not_before: " << Rfc3339(not_before) << "\n"
            << "not_after: " << Rfc3339(not_after) << "\n"
            << "validity: " << validity << "\n"
            << "uri_sans: " << JoinOrNone(x509::UriSans(c)) << "\n"
            << "dns_sans: " << JoinOrNone(x509::DnsSans(c)) << "\n"
            << "ip_sans: " << JoinOrNone(x509::IpSans(c)) << "\n"
            << "key: " << DescribePublicKey(c) << "\n";
  absl::StatusOr<PrincipalName> principal = CertificatePrincipal(c);
  if (principal.ok()) {
    std::cout << "principal: " << principal->Uri() << " (valid "
              << KindName(principal->kind) << ")\n";
  } else {
    std::cout << "principal: INVALID: " << principal.status().message() << "\n";
  }
  const std::string dir = CaDir();
  if (absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(dir);
      ca.ok()) {
    std::cout << "ca: "
              << (ca->IsIssuerOf(c) ? "signed by the CA in "
                                    : "NOT signed by the CA in ")
              << dir << "\n";
  }
  if (!principal.ok()) {
    return Failure(absl::InvalidArgumentError(
        absl::StrCat(path, " is not a valid Liaison certificate: ",
                     principal.status().message())));
  }
  return 0;
}

}  // namespace liaison::certs
