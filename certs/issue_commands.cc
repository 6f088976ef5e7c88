#include "certs/issue_commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

absl::Status CheckDnsName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 253;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name, "\" is not a DNS name (letters, digits, '-' and '.')"));
  }
  return absl::OkStatus();
}

}  // namespace

int RunInit(const CommandLine& cl) {
  absl::StatusOr<absl::Duration> validity = Days(cl, 3650);
  if (!validity.ok()) return UsageError(validity.status().message(), "init");
  const std::string dir = CaDir();
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Init(
      dir, absl::GetFlag(FLAGS_cn), *validity, absl::Now());
  if (!ca.ok()) return Failure(ca.status());
  std::cout << "ca_dir: " << dir << "\n"
            << "certificate: " << dir << "/ca.crt\n"
            << "key: " << dir << "/ca.key\n"
            << "serial: " << x509::SerialHex(ca->ca_certificate()) << "\n"
            << "not_after: "
            << Rfc3339(x509::NotAfter(ca->ca_certificate())) << "\n";
  return 0;
}

int RunIssue(const CommandLine& cl) {
  if (cl.positional.size() < 2) {
    return UsageError("issue needs a kind: agency, auditor, admin or server",
                      "issue");
  }
  if (cl.positional.size() > 2) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[2], "\""),
        "issue");
  }
  const std::string& kind = cl.positional[1];
  PrincipalName name;
  if (kind == "agency") {
    name.kind = v1::PRINCIPAL_KIND_AGENCY;
  } else if (kind == "auditor") {
    name.kind = v1::PRINCIPAL_KIND_AUDITOR;
  } else if (kind == "admin") {
    name.kind = v1::PRINCIPAL_KIND_ADMIN;
  } else if (kind == "server") {
    name.kind = v1::PRINCIPAL_KIND_BROKER;
  } else {
    return UsageError(absl::StrCat("unknown certificate kind \"", kind,
                                   "\"; use agency, auditor, admin or server"),
                      "issue");
  }
  const bool agency = name.kind == v1::PRINCIPAL_KIND_AGENCY;
  const bool server = name.kind == v1::PRINCIPAL_KIND_BROKER;
  if (cl.flags.count("id") == 0 || absl::GetFlag(FLAGS_id).empty()) {
    return UsageError(absl::StrCat("issue ", kind, " needs --id=ID"), "issue");
  }
  if (agency &&
      (cl.flags.count("sector") == 0 || absl::GetFlag(FLAGS_sector).empty())) {
    return UsageError("issue agency needs --sector=SECTOR", "issue");
  }
  if (!agency && cl.flags.count("sector") != 0) {
    return UsageError("--sector applies only to issue agency", "issue");
  }
  const std::vector<std::string> dns = absl::GetFlag(FLAGS_dns);
  const std::vector<std::string> ip = absl::GetFlag(FLAGS_ip);
  if (!server && (cl.flags.count("dns") != 0 || cl.flags.count("ip") != 0)) {
    return UsageError("--dns and --ip apply only to issue server", "issue");
  }
  if (server && dns.empty() && ip.empty()) {
    return UsageError(
        "issue server needs at least one --dns=NAME or --ip=ADDR: the "
        "addresses agencies use to reach the broker",
        "issue");
  }

  name.id = absl::GetFlag(FLAGS_id);
  if (absl::Status s = ValidatePrincipalId(name.id); !s.ok()) {
    return Failure(s);
  }
  if (agency) {
    name.sector = absl::GetFlag(FLAGS_sector);
    if (absl::Status s = ValidateSector(name.sector); !s.ok()) {
      return Failure(s);
    }
  }
  const std::string uri = name.Uri();
  if (absl::StatusOr<PrincipalName> parsed = ParsePrincipalUri(uri);
      !parsed.ok()) {
    return Failure(parsed.status());
  }
  for (const std::string& d : dns) {
    if (absl::Status s = CheckDnsName(d); !s.ok()) return Failure(s);
  }
  absl::StatusOr<absl::Duration> validity = Days(cl, 365);
  if (!validity.ok()) return UsageError(validity.status().message(), "issue");
  absl::Time not_before = absl::Now();
  if (cl.flags.count("not_before") != 0) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, absl::GetFlag(FLAGS_not_before),
                         &not_before, &err)) {
      return UsageError(
          absl::StrCat("--not_before=", absl::GetFlag(FLAGS_not_before),
                       " is not an RFC 3339 time such as "
                       "2020-01-01T00:00:00Z (",
                       err, ")"),
          "issue");
    }
  }

  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(CaDir());
  if (!ca.ok()) return Failure(ca.status());
  IssueSpec spec;
  spec.common_name = name.id;
  spec.uri_sans = {uri};
  spec.dns_sans = dns;
  spec.ip_sans = ip;
  spec.not_before = not_before;
  spec.validity = *validity;
  spec.server_auth = server;
  spec.client_auth = true;
  spec.label = absl::StrCat(kind, "-", name.id);
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) out = ca->issued_dir();
  absl::StatusOr<IssuedCertificate> issued =
      ca->Issue(spec, out, absl::GetFlag(FLAGS_force));
  if (!issued.ok()) return Failure(issued.status());
  std::cout << "serial: " << issued->serial << "\n"
            << "principal: " << uri << "\n"
            << "certificate: " << issued->cert_path << "\n"
            << "key: " << issued->key_path << "\n"
            << "not_after: " << Rfc3339(issued->not_after) << "\n";
  return 0;
}

int RunRenew(const CommandLine& cl) {
  if (cl.positional.size() != 2) {
    return UsageError(
        cl.positional.size() < 2
            ? "renew needs the SERIAL or CERT_FILE to renew"
            : absl::StrCat("unexpected argument \"", cl.positional[2], "\""),
        "renew");
  }
  if (cl.flags.count("days") != 0) {
    if (absl::StatusOr<absl::Duration> d = Days(cl, 365); !d.ok()) {
      return UsageError(d.status().message(), "renew");
    }
  }
  const std::string dir = CaDir();
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(dir);
  if (!ca.ok()) return Failure(ca.status());
  absl::StatusOr<std::string> serial = SerialOf(*ca, cl.positional[1]);
  if (!serial.ok()) return Failure(serial.status());
  const std::vector<IndexEntry> entries = ca->List();
  auto old =
      std::find_if(entries.begin(), entries.end(),
                   [&](const IndexEntry& e) { return e.serial == *serial; });
  if (old == entries.end()) {
    return Failure(absl::NotFoundError(
        absl::StrCat("the CA in ", dir, " never issued serial ", *serial,
                     "; `liaison-certs list` shows what it issued")));
  }
  if (old->revoked) {
    return Failure(absl::FailedPreconditionError(absl::StrCat(
        "serial ", *serial, " was revoked on ",
        Rfc3339(old->revoked_at),
        "; a revoked certificate is not renewed: issue a new one with "
        "`liaison-certs issue`")));
  }
  // The old certificate itself says what the new one must name.
  std::string old_path = old->cert_path;
  if (!old_path.empty() && old_path[0] != '/') old_path = dir + "/" + old_path;
  if (struct stat st; ::stat(cl.positional[1].c_str(), &st) == 0) {
    old_path = cl.positional[1];
  }
  absl::StatusOr<x509::CertPtr> old_cert = x509::ReadCertificateFile(old_path);
  if (!old_cert.ok()) {
    return Failure(absl::NotFoundError(absl::StrCat(
        "cannot read serial ", *serial, "'s certificate at ", old_path, " (",
        old_cert.status().message(),
        "); name the certificate file instead: liaison-certs renew FILE")));
  }
  absl::StatusOr<PrincipalName> name = CertificatePrincipal(old_cert->get());
  if (!name.ok()) return Failure(name.status());
  const bool server = name->kind == v1::PRINCIPAL_KIND_BROKER;
  IssueSpec spec;
  spec.common_name = name->id;
  spec.uri_sans = {name->Uri()};
  spec.dns_sans = x509::DnsSans(old_cert->get());
  spec.ip_sans = x509::IpSans(old_cert->get());
  spec.not_before = absl::Now();
  spec.validity = old->not_after - old->not_before;
  if (cl.flags.count("days") != 0) spec.validity = *Days(cl, 365);
  spec.server_auth = server;
  spec.client_auth = true;
  spec.label = absl::StrCat(
      server ? "server" : KindName(name->kind), "-", name->id, "-renewed-",
      absl::FormatTime("%Y%m%dT%H%M%SZ", spec.not_before, absl::UTCTimeZone()));
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) out = ca->issued_dir();
  // A second renewal within the same second gets "-2", and so on.
  const std::string stem = spec.label;
  for (int n = 2; !absl::GetFlag(FLAGS_force) && n < 1000; ++n) {
    struct stat st;
    const std::string base = absl::StrCat(out, "/", spec.label);
    if (::stat((base + ".crt").c_str(), &st) != 0 &&
        ::stat((base + ".key").c_str(), &st) != 0) {
      break;
    }
    spec.label = absl::StrCat(stem, "-", n);
  }
  absl::StatusOr<IssuedCertificate> issued =
      ca->Issue(spec, out, absl::GetFlag(FLAGS_force));
  if (!issued.ok()) return Failure(issued.status());
  std::cout << "renewed: " << *serial << " (valid until "
            << Rfc3339(old->not_after) << ")\n"
            << "serial: " << issued->serial << "\n"
            << "principal: " << name->Uri() << "\n"
            << "certificate: " << issued->cert_path << "\n"
            << "key: " << issued->key_path << "\n"
            << "not_after: " << Rfc3339(issued->not_after) << "\n"
            << "Both certificates are valid now. Next:\n"
            << "  1. install the new certificate and key where the old ones "
               "are used"
            << (server ? " (tls_cert, tls_key), then send the broker SIGHUP"
                       : "")
            << ";\n";
  if (name->kind == v1::PRINCIPAL_KIND_AGENCY) {
    std::cout << "  2. if the agency has bound serials: liaison admin bind "
              << name->id << " " << issued->serial << "\n";
  }
  std::cout << "  " << (name->kind == v1::PRINCIPAL_KIND_AGENCY ? "3" : "2")
            << ". once it is in use: liaison-certs --dir=" << dir << " revoke "
            << *serial << " --reason=superseded && liaison-certs --dir=" << dir
            << " crl, then SIGHUP the broker or `liaison admin reload-crl`\n";
  return 0;
}

}  // namespace liaison::certs
