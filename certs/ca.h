// The deployment's certificate authority, as kept by liaison-certs
// (DESIGN.md section 3): one private CA per deployment that issues the agency,
// auditor, admin and broker certificates, revokes them and publishes CRLs.
//
// All state lives in one directory an administrator can back up:
//
//   <dir>/ca.crt      the CA certificate (PEM), self-signed
//   <dir>/ca.key      the CA private key (PEM, PKCS#8, mode 0600)
//   <dir>/index.tsv   every certificate the CA has issued (format below)
//   <dir>/crlnumber   the number the next CRL will carry, in decimal
//   <dir>/crl.pem     default location of the CRL
//   <dir>/issued/     default folder for issued certificates and keys
//   <dir>/.lock       flock()ed exclusively by every change
//
// The directory is created with mode 0700. Every file is replaced atomically
// (temporary file, fsync, rename), so a crash leaves either the old or the
// new version. Changes (Issue, Revoke, CRL numbering) hold an exclusive
// flock on <dir>/.lock and re-read the index under it, so concurrent
// liaison-certs invocations on the same directory serialise instead of
// losing each other's entries.
//
// index.tsv: lines starting with '#' are comments (the file starts with a
// header naming the columns). Every other line describes one certificate in
// ten tab-separated fields:
//
//   1 serial       upper-case hexadecimal, as x509::SerialHex prints it
//   2 kind         agency, auditor, admin or broker; "other" when the
//                  certificate does not carry exactly one valid principal URI
//   3 principal    the URI SANs separated by spaces; "-" when there is none
//   4 subject      one-line subject, e.g. "CN = st-olavs, O = Liaison"
//   5 not_before   RFC 3339 UTC, e.g. 2025-01-31T12:00:00Z
//   6 not_after    RFC 3339 UTC
//   7 status       "valid" or "revoked" (expiry is computed, never stored)
//   8 revoked_at   RFC 3339 UTC, "-" while not revoked
//   9 reason       revocation reason name (see RevocationReason), "-" while
//                  not revoked
//  10 cert_path    where the certificate was written: relative to <dir> when
//                  inside it, otherwise absolute
#ifndef LIAISON_CERTS_CA_H_
#define LIAISON_CERTS_CA_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/basics/principal.h"
#include "broker/basics/x509.h"

namespace liaison::certs {

// CRL entry reason codes (RFC 5280 section 5.3.1) an administrator may give.
enum class RevocationReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
};

// "unspecified", "key_compromise", "affiliation_changed", "superseded",
// "cessation_of_operation".
absl::string_view ReasonName(RevocationReason reason);
// Inverse of ReasonName; INVALID_ARGUMENT listing the accepted names.
absl::StatusOr<RevocationReason> ParseRevocationReason(absl::string_view name);

enum class CertificateStatus { kValid, kRevoked, kExpired };
// "VALID", "REVOKED", "EXPIRED".
absl::string_view StatusName(CertificateStatus status);

// The principal a Liaison certificate names: its one and only URI SAN,
// parsed by ParsePrincipalUri. INVALID_ARGUMENT naming the problem when the
// certificate has no URI SAN, several, or a malformed one.
absl::StatusOr<PrincipalName> CertificatePrincipal(const X509* cert);

// What the certificate's public key is, e.g. "EC P-256" or "RSA 2048 bits".
std::string DescribePublicKey(const X509* cert);

// What to put in a new leaf certificate. The lists are written as given, in
// order, without checking that they name a Liaison principal: callers that
// issue for real principals (liaison-certs) validate first, and tests use
// this to make deliberately malformed certificates.
struct IssueSpec {
  // Subject CN, 1-64 characters. Never used for identity.
  std::string common_name;
  // subjectAltName entries. IP addresses are IPv4 or IPv6 literals.
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;
  // Start of validity; may be in the past or the future.
  absl::Time not_before = absl::UnixEpoch();
  // Length of validity, positive. not_before + validity must not be later
  // than the CA certificate's own notAfter.
  absl::Duration validity = absl::ZeroDuration();
  // extendedKeyUsage purposes; the extension is omitted when both are false.
  bool server_auth = false;
  bool client_auth = false;
  // File name stem: the certificate goes to <out_dir>/<label>.crt and its
  // key to <out_dir>/<label>.key. No '/', no control characters.
  std::string label;
};

struct IssuedCertificate {
  std::string serial;     // as x509::SerialHex prints it
  std::string cert_path;  // <out_dir>/<label>.crt
  std::string key_path;   // <out_dir>/<label>.key, mode 0600
  absl::Time not_before;
  absl::Time not_after;
};

// One line of index.tsv.
struct IndexEntry {
  std::string serial;
  std::string kind;
  std::string principal;
  std::string subject;
  absl::Time not_before;
  absl::Time not_after;
  bool revoked = false;
  absl::Time revoked_at = absl::InfinitePast();  // meaningful when revoked
  RevocationReason reason = RevocationReason::kUnspecified;
  std::string cert_path;

  // REVOKED once revoked (even after expiry), else EXPIRED after not_after,
  // else VALID. A certificate not yet valid counts as VALID.
  CertificateStatus StatusAt(absl::Time now) const;
};

struct CrlSummary {
  uint64_t number = 0;  // the cRLNumber extension
  size_t revoked = 0;   // entries listed
  absl::Time this_update;
  absl::Time next_update;
};

// A CA directory opened for use. Holds the CA certificate and key in memory
// and a snapshot of the index taken when opened and refreshed by every
// change this object makes. Move-only.
class CertificateAuthority {
 public:
  // Creates a CA in `dir` (created with mode 0700 if missing, and set to
  // 0700): a fresh EC P-256 key and a self-signed certificate with subject
  // "CN=<common_name>, O=Liaison" valid from `now` for `validity`, an empty
  // index, crlnumber 1 and the issued/ folder. ALREADY_EXISTS when `dir`
  // already holds a CA; nothing is changed then.
  static absl::StatusOr<CertificateAuthority> Init(
      const std::string& dir, const std::string& common_name,
      absl::Duration validity, absl::Time now);

  // Opens the CA in `dir`. NOT_FOUND, telling to run `liaison-certs init`,
  // when there is none; an error naming the file when it is damaged or the
  // key does not match the certificate.
  static absl::StatusOr<CertificateAuthority> Open(const std::string& dir);

  CertificateAuthority(CertificateAuthority&&) = default;
  CertificateAuthority& operator=(CertificateAuthority&&) = default;

  const std::string& dir() const { return dir_; }
  // <dir>/issued, where liaison-certs writes certificates by default.
  std::string issued_dir() const;
  // <dir>/crl.pem, where liaison-certs writes the CRL by default.
  std::string crl_path() const;

  // Owned by this object; valid while it lives.
  const X509* ca_certificate() const { return cert_.get(); }
  EVP_PKEY* ca_key() const { return key_.get(); }

  // Whether `cert` carries this CA's signature.
  bool IsIssuerOf(const X509* cert) const;

  // Generates an EC P-256 key, issues a certificate for it as `spec` says
  // (128-bit random serial, SHA-256, CA:FALSE, digitalSignature) and writes
  // both into `out_dir` (created with mode 0700 if missing), then records it
  // in the index. ALREADY_EXISTS when either file exists unless `overwrite`;
  // replacing the files does not revoke the certificate they held.
  // INVALID_ARGUMENT for a bad spec. Nothing is written on error.
  absl::StatusOr<IssuedCertificate> Issue(const IssueSpec& spec,
                                          const std::string& out_dir,
                                          bool overwrite = false);

  // Marks the certificate with `serial` (any form NormalizeSerial accepts)
  // revoked at `now` and returns its updated entry. NOT_FOUND for a serial
  // this CA never issued; FAILED_PRECONDITION, saying when, if it is already
  // revoked. Takes effect for relying parties only once a new CRL is
  // published.
  absl::StatusOr<IndexEntry> Revoke(absl::string_view serial,
                                    RevocationReason reason, absl::Time now);

  // A v2 CRL signed with SHA-256 by the CA key, listing every revoked
  // certificate with its revocation date and, unless the reason is
  // unspecified (RFC 5280 asks to omit it then), a reasonCode; lastUpdate is
  // `now`, nextUpdate `now + next_update`. Each call consumes the next
  // cRLNumber, so numbers increase strictly. `summary`, when not null,
  // receives what was listed.
  absl::StatusOr<std::string> CrlPem(absl::Time now,
                                     absl::Duration next_update,
                                     CrlSummary* summary = nullptr);
  // CrlPem written atomically to `path` (mode 0644).
  absl::StatusOr<CrlSummary> WriteCrl(const std::string& path, absl::Time now,
                                      absl::Duration next_update);

  // The index, in issue order.
  std::vector<IndexEntry> List() const { return entries_; }

 private:
  CertificateAuthority(std::string dir, x509::CertPtr cert, x509::KeyPtr key,
                       std::vector<IndexEntry> entries);

  std::string FilePath(absl::string_view name) const;
  // Re-reads index.tsv into entries_; call with the lock held.
  absl::Status ReloadIndex();
  // Writes `entries` to index.tsv; call with the lock held.
  absl::Status WriteIndex(const std::vector<IndexEntry>& entries) const;
  // CrlPem; call with the lock held.
  absl::StatusOr<std::string> CrlPemLocked(absl::Time now,
                                           absl::Duration next_update,
                                           CrlSummary* summary);

  std::string dir_;
  x509::CertPtr cert_;
  x509::KeyPtr key_;
  std::vector<IndexEntry> entries_;
};

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_CA_H_
