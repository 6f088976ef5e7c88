// liaison-certs: the administrator's tool for a deployment's private CA.
// Exit codes: 0 success; 1 the operation was refused or failed (bad sector
// or id, no CA, existing files, unknown serial, I/O); 2 the command line
// could not be understood (unknown command or flag, missing argument, a flag
// value of the wrong form). Errors go to stderr prefixed "liaison-certs: ".
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/command_line.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "broker/basics/x509.h"
#include "certs/ca.h"

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
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kMaxDays = 36500;

constexpr char kGeneralHelp[] =
    R"(liaison-certs: the administrator's tool for a Liaison deployment's private CA.

Usage: liaison-certs [--dir=DIR] COMMAND [ARGUMENTS] [FLAGS]

Commands:
  init      create the CA
  issue     issue a certificate and key for an agency, auditor, admin or server
  renew     issue a successor for a certificate; both work until the old is revoked
  revoke    mark a certificate revoked
  crl       write a signed certificate revocation list
  list      show the certificates the CA has issued
  inspect   show what a certificate file contains
  help      show help for a command

Global flag:
  --dir=DIR   the CA directory (default: $LIAISON_CA_DIR, else ./liaison-ca)

Run `liaison-certs help COMMAND` or `liaison-certs COMMAND --help` for details.
)";

struct Command {
  absl::string_view name;
  // Flags the command accepts besides --dir.
  std::vector<absl::string_view> flags;
  absl::string_view help;
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"init",
       {"cn", "days"},
       R"(Usage: liaison-certs [--dir=DIR] init [--cn=NAME] [--days=N]

Creates the deployment CA in DIR: an EC P-256 key (ca.key, mode 0600), a
self-signed CA certificate (ca.crt), an empty index (index.tsv), the CRL
counter (crlnumber) and the issued/ folder. DIR is created if missing and set
to mode 0700. Refuses if DIR already holds a CA.

Whoever holds ca.key can impersonate any agency: back DIR up and keep it
where only administrators can read it.

Flags:
  --cn=NAME   common name of the CA certificate (default "Liaison deployment CA")
  --days=N    validity in days (default 3650)
)"},
      {"issue",
       {"sector", "id", "days", "not_before", "out", "force", "dns", "ip"},
       R"(Usage:
  liaison-certs [--dir=DIR] issue agency --sector=SECTOR --id=ID [FLAGS]
  liaison-certs [--dir=DIR] issue auditor --id=ID [FLAGS]
  liaison-certs [--dir=DIR] issue admin --id=ID [FLAGS]
  liaison-certs [--dir=DIR] issue server --id=ID --dns=NAME[,NAME] [--ip=ADDR[,ADDR]] [FLAGS]

Issues a certificate and a fresh EC P-256 key. The certificate names its
principal in its only URI SAN:
  agency    liaison://agency/SECTOR/ID   for client authentication
  auditor   liaison://auditor/ID         for client authentication
  admin     liaison://admin/ID           for client authentication
  server    liaison://broker/ID          for server and client authentication,
            plus the DNS names and IP addresses agencies reach the broker at
The files are FOLDER/KIND-ID.crt and FOLDER/KIND-ID.key (mode 0600). A
principal must also be registered with the broker before it can act.

Flags:
  --sector=SECTOR     agency only: 1-32 of a-z, 0-9 and '_', starting with a letter
  --id=ID             1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter
                      or digit; also the certificate's common name
  --dns=NAME[,NAME]   server only: DNS names (at least one --dns or --ip)
  --ip=ADDR[,ADDR]    server only: IPv4 or IPv6 addresses
  --days=N            validity in days (default 365)
  --not_before=TIME   start of validity in RFC 3339, e.g. 2020-01-01T00:00:00Z
                      (default now)
  --out=FOLDER        where to write the files (default DIR/issued)
  --force             replace existing files of the same name; the certificate
                      they held stays valid until revoked

Prints serial, principal, certificate, key and not_after, one per line.
)"},
      {"renew",
       {"days", "out", "force"},
       R"(Usage: liaison-certs [--dir=DIR] renew SERIAL|CERT_FILE [--days=N] [--out=FOLDER]

Issues a successor for a certificate this CA issued: the same principal
(and, for a server, the same DNS names and IP addresses), a fresh EC P-256
key, valid from now. The old certificate is left as it is, so both work
during the overlap while the new one is installed. Name the old one by its
serial, as `liaison-certs list` prints it, or by its certificate file. A
revoked certificate is not renewed: issue a new one.

The files are FOLDER/KIND-ID-renewed-YYYYMMDDTHHMMSSZ.crt and .key (mode
0600; "-2" and so on is added for a second renewal within the second), so
the old files, still in use, are not touched.

Then:
  1. install the new certificate and key where the old ones are used (for
     the broker's own, point tls_cert and tls_key at them and send SIGHUP);
  2. if the agency has bound serials, bind the new one:
     liaison admin bind AGENCY_ID NEW_SERIAL
  3. once the new one is in use, revoke the old one and publish a CRL:
     liaison-certs revoke OLD_SERIAL --reason=superseded && liaison-certs crl
     and have the broker reload it (SIGHUP or `liaison admin reload-crl`).

Flags:
  --days=N       validity in days (default: as long as the old one's)
  --out=FOLDER   where to write the files (default DIR/issued)
  --force        replace existing files of the same name

Prints renewed (the old serial), serial, principal, certificate, key and
not_after, one per line, then the steps above with the serials filled in.
)"},
      {"revoke",
       {"reason"},
       R"(Usage: liaison-certs [--dir=DIR] revoke SERIAL|CERT_FILE [--reason=REASON]

Marks a certificate this CA issued as revoked. Name it by its serial, as
`liaison-certs list` prints it, or by its certificate file. The broker learns
of it only from the next CRL: run `liaison-certs crl` afterwards and install
the CRL where the broker reads it (the broker reloads it on SIGHUP).

Flags:
  --reason=REASON   unspecified (default), key_compromise, superseded,
                    affiliation_changed or cessation_of_operation
)"},
      {"crl",
       {"out", "days"},
       R"(Usage: liaison-certs [--dir=DIR] crl [--out=FILE] [--days=N]

Writes a certificate revocation list signed by the CA, listing every revoked
certificate and carrying the next CRL number. Write and install a new one
after every revocation and before the current one's next update passes.

Flags:
  --out=FILE   where to write it (default DIR/crl.pem)
  --days=N     days until its next update (default 7)

Prints the file written, the CRL number and how many certificates it lists.
)"},
      {"list",
       {"expiring"},
       R"(Usage: liaison-certs [--dir=DIR] list [--expiring[=DAYS]]

Shows every certificate the CA has issued as a table:
  SERIAL  STATUS  NOT_AFTER  PRINCIPAL
where STATUS is VALID, REVOKED or EXPIRED.

Flags:
  --expiring[=DAYS] only valid certificates that expire within DAYS days
                    (default 30), soonest first (none found is not an error)
)"},
      {"inspect",
       {},
       R"(Usage: liaison-certs inspect CERT_FILE

Shows a certificate's subject, issuer, serial, validity, URI/DNS/IP SANs and
key type, and whether its one URI SAN names a valid Liaison principal. When
DIR holds a CA, also says whether that CA signed it.

Exits 1 when the certificate does not name exactly one valid Liaison
principal, after showing what it contains.
)"},
      {"help",
       {},
       R"(Usage: liaison-certs help [COMMAND]

Shows the list of commands, or the help of COMMAND.
)"},
  };
  return *commands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

using cli::CommandLine;
using cli::FlagSpec;
using cli::FlagType;

// The flags this tool defines.
constexpr FlagSpec kFlagSpecs[] = {
    {"dir", FlagType::kString},    {"cn", FlagType::kString},
    {"days", FlagType::kInt},      {"sector", FlagType::kString},
    {"id", FlagType::kString},     {"not_before", FlagType::kString},
    {"out", FlagType::kString},    {"force", FlagType::kBool},
    {"dns", FlagType::kString},    {"ip", FlagType::kString},
    {"reason", FlagType::kString}, {"expiring", FlagType::kInt},
};

CommandLine Scan(int argc, char** argv) {
  return cli::ScanCommandLine(argc, argv, kFlagSpecs);
}

int UsageError(absl::string_view message, absl::string_view command = "") {
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

// --days when given (1 to kMaxDays), else `fallback`.
absl::StatusOr<absl::Duration> Days(const CommandLine& cl, int fallback) {
  if (cl.flags.count("days") == 0) return absl::Hours(24) * fallback;
  const int days = absl::GetFlag(FLAGS_days);
  if (days < 1 || days > kMaxDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("--days must be between 1 and ", kMaxDays));
  }
  return absl::Hours(24) * days;
}

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

// The serial a person named: a certificate file (which must be this CA's)
// or a serial in any form NormalizeSerial accepts.
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

std::string Pad(absl::string_view s, size_t width) {
  std::string out(s);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

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

std::string JoinOrNone(const std::vector<std::string>& items) {
  return items.empty() ? "(none)" : absl::StrJoin(items, ", ");
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

int Run(int argc, char** argv) {
  // A bare --expiring (no "=", no number after it) means the default window.
  std::vector<std::string> storage(argv, argv + argc);
  for (size_t i = 1; i < storage.size(); ++i) {
    if (storage[i] != "--expiring" && storage[i] != "-expiring") continue;
    int days = 0;
    if (i + 1 < storage.size() && absl::SimpleAtoi(storage[i + 1], &days)) {
      continue;
    }
    storage[i] = "--expiring=30";
  }
  std::vector<char*> args;
  for (std::string& a : storage) args.push_back(a.data());
  argc = static_cast<int>(args.size());
  argv = args.data();
  const CommandLine cl = Scan(argc, argv);
  if (cl.positional.empty()) {
    if (cl.help) {
      std::cout << kGeneralHelp;
      return 0;
    }
    return UsageError(cl.error.empty() ? "missing COMMAND" : cl.error);
  }
  const std::string& name = cl.positional[0];
  if (name == "help") {
    if (cl.help && cl.positional.size() == 1) {
      std::cout << FindCommand("help")->help;
      return 0;
    }
    if (cl.positional.size() > 2) {
      return UsageError("help takes at most one COMMAND", "help");
    }
    if (cl.positional.size() == 1) {
      std::cout << kGeneralHelp;
      return 0;
    }
    const Command* command = FindCommand(cl.positional[1]);
    if (command == nullptr) {
      return UsageError(
          absl::StrCat("unknown command \"", cl.positional[1], "\""));
    }
    std::cout << command->help;
    return 0;
  }
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    return UsageError(absl::StrCat("unknown command \"", name, "\""));
  }
  if (cl.help) {
    std::cout << command->help;
    return 0;
  }
  if (!cl.error.empty()) return UsageError(cl.error, name);
  for (const std::string& flag : cl.flags) {
    if (flag == "dir") continue;
    if (std::find(command->flags.begin(), command->flags.end(), flag) ==
        command->flags.end()) {
      return UsageError(absl::StrCat("--", flag, " does not apply to ", name),
                        name);
    }
  }
  absl::ParseCommandLine(argc, argv);
  if (cl.flags.count("dir") != 0 && absl::GetFlag(FLAGS_dir).empty()) {
    return UsageError("--dir needs a directory", name);
  }

  if (name == "init") {
    if (cl.positional.size() > 1) {
      return UsageError(
          absl::StrCat("unexpected argument \"", cl.positional[1], "\""),
          "init");
    }
    return RunInit(cl);
  }
  if (name == "issue") return RunIssue(cl);
  if (name == "renew") return RunRenew(cl);
  if (name == "revoke") return RunRevoke(cl);
  if (name == "crl") return RunCrl(cl);
  if (name == "list") return RunList(cl);
  return RunInspect(cl);
}

}  // namespace
}  // namespace liaison::certs

int main(int argc, char** argv) { return liaison::certs::Run(argc, argv); }
