// The pieces the CA builds certificates from with OpenSSL: owning pointers,
// keys, serials, names, extensions and signatures, and the checks on what a
// certificate may carry. Used by the CA's own sources (ca.cc, ca_issue.cc,
// ca_revocation.cc); not part of its interface (ca.h).
#ifndef LIAISON_CERTS_X509_BUILD_H_
#define LIAISON_CERTS_X509_BUILD_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/basics/x509.h"
#include "certs/ca.h"

namespace liaison::certs {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

using AsnIntegerPtr = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using AsnEnumeratedPtr = Owned<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using AsnStringPtr = Owned<ASN1_STRING, ASN1_STRING_free>;
using AsnTimePtr = Owned<ASN1_TIME, ASN1_TIME_free>;
using BioPtr = Owned<BIO, BIO_free_all>;
using BnPtr = Owned<BIGNUM, BN_free>;
using ExtensionPtr = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamePtr = Owned<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using NamePtr = Owned<X509_NAME, X509_NAME_free>;
using PkeyCtxPtr = Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using RevokedPtr = Owned<X509_REVOKED, X509_REVOKED_free>;

// INTERNAL: "<what> failed: " and the errors OpenSSL queued (which it
// clears).
absl::Status OpenSslError(absl::string_view what);

bool HasControlCharacter(absl::string_view s);
// INVALID_ARGUMENT unless `cn` is 1-64 characters without control
// characters.
absl::Status CheckCommonName(absl::string_view cn);
// INVALID_ARGUMENT unless `label` is a plain file name stem (see IssueSpec).
absl::Status CheckLabel(absl::string_view label);

absl::StatusOr<x509::KeyPtr> GenerateP256Key();

// A random positive serial of 16 bytes (top bit clear, non-zero), as RFC
// 5280 section 4.1.2.2 wants.
absl::StatusOr<BnPtr> RandomSerial();

// `bn` in hexadecimal as BN_bn2hex writes it; "" on error.
std::string BnHex(const BIGNUM* bn);

absl::StatusOr<AsnTimePtr> NewTime(absl::Time t);

// A v3 certificate with everything but extensions and signature: serial,
// subject "CN=<common_name>, O=Liaison", issuer name (the subject's own
// when `issuer` is null), validity and public key.
absl::StatusOr<x509::CertPtr> NewCertificate(const BIGNUM* serial,
                                             const std::string& common_name,
                                             const X509_NAME* issuer,
                                             absl::Time not_before,
                                             absl::Time not_after,
                                             EVP_PKEY* subject_key);

// Adds an extension given in OpenSSL's configuration syntax. `value` is
// always a constant of ours, never user input.
absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid,
                          const char* value);

// The subjectAltName `spec` lists, if any; INVALID_ARGUMENT for a SAN that
// is not printable ASCII or an IP that is not an address.
absl::Status AddSubjectAltNames(X509* cert, const IssueSpec& spec);

// Signs `cert` with `key` over SHA-256.
absl::Status Sign(X509* cert, EVP_PKEY* key);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_X509_BUILD_H_
