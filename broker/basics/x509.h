// Small, owned wrappers over OpenSSL's X.509 C API, shared by liaison-certs,
// the broker and the client library. Every function reports failures as a
// Status whose message includes OpenSSL's reason.
#ifndef LIAISON_BROKER_BASICS_X509_H_
#define LIAISON_BROKER_BASICS_X509_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace liaison::x509 {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
using CertPtr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;

// Drains OpenSSL's error queue into one line, for error messages.
std::string OpenSslErrors();

absl::StatusOr<CertPtr> ParseCertificatePem(absl::string_view pem);
absl::StatusOr<CertPtr> ReadCertificateFile(const std::string& path);
absl::StatusOr<KeyPtr> ReadPrivateKeyFile(const std::string& path);
// A PEM private key held in memory; `source` names it in errors.
absl::StatusOr<KeyPtr> ParsePrivateKeyPem(absl::string_view pem,
                                          absl::string_view source);
absl::StatusOr<std::string> CertificateToPem(const X509* cert);
absl::StatusOr<std::string> PrivateKeyToPem(const EVP_PKEY* key);

// Upper-case hexadecimal serial number without separators.
std::string SerialHex(const X509* cert);
// Canonical form of a serial given by a person: hexadecimal digits in any
// case, optionally separated by ':' and prefixed by "0x"; returns it as
// SerialHex prints it. INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> NormalizeSerial(absl::string_view serial);
// Every URI entry of the subjectAltName extension, in order.
std::vector<std::string> UriSans(const X509* cert);
std::vector<std::string> DnsSans(const X509* cert);
std::vector<std::string> IpSans(const X509* cert);
// One-line subject, e.g. "CN=st-olavs, O=Liaison".
std::string SubjectLine(const X509* cert);
// One-line issuer name, in the same form as SubjectLine.
std::string IssuerLine(const X509* cert);
absl::Time NotBefore(const X509* cert);
absl::Time NotAfter(const X509* cert);

// The serials listed by a CRL whose signature was checked against the CA.
struct RevocationList {
  absl::flat_hash_map<std::string, absl::Time> revoked;  // serial -> date
  absl::Time this_update;
  absl::Time next_update;
};

// Reads a PEM CRL and verifies it was signed by `ca`. A CRL from another CA
// or with a bad signature is INVALID_ARGUMENT.
absl::StatusOr<RevocationList> ReadCrlFile(const std::string& path,
                                           const X509* ca);

}  // namespace liaison::x509

#endif  // LIAISON_BROKER_BASICS_X509_H_
