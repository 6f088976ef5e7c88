#include "certs/ca.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "certs/ca_folder.h"
#include "certs/x509_build.h"

namespace liaison::certs {
namespace {

namespace fs = std::filesystem;

}  // namespace

absl::string_view ReasonName(RevocationReason reason) {
  switch (reason) {
    case RevocationReason::kUnspecified:
      return "unspecified";
    case RevocationReason::kKeyCompromise:
      return "key_compromise";
    case RevocationReason::kAffiliationChanged:
      return "affiliation_changed";
    case RevocationReason::kSuperseded:
      return "superseded";
    case RevocationReason::kCessationOfOperation:
      return "cessation_of_operation";
  }
  return "unspecified";
}

absl::StatusOr<RevocationReason> ParseRevocationReason(absl::string_view name) {
  for (RevocationReason r :
       {RevocationReason::kUnspecified, RevocationReason::kKeyCompromise,
        RevocationReason::kSuperseded, RevocationReason::kAffiliationChanged,
        RevocationReason::kCessationOfOperation}) {
    if (name == ReasonName(r)) return r;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown revocation reason \"", name,
      "\"; use unspecified, key_compromise, superseded, affiliation_changed "
      "or cessation_of_operation"));
}

absl::string_view StatusName(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::kValid:
      return "VALID";
    case CertificateStatus::kRevoked:
      return "REVOKED";
    case CertificateStatus::kExpired:
      return "EXPIRED";
  }
  return "VALID";
}

absl::StatusOr<PrincipalName> CertificatePrincipal(const X509* cert) {
  std::vector<std::string> uris = x509::UriSans(cert);
  if (uris.empty()) {
    return absl::InvalidArgumentError(
        "certificate has no URI SAN; a Liaison certificate names its "
        "principal in exactly one URI SAN");
  }
  if (uris.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate has ", uris.size(), " URI SANs (",
        absl::StrJoin(uris, ", "),
        "); a Liaison certificate carries exactly one"));
  }
  return ParsePrincipalUri(uris[0]);
}

std::string DescribePublicKey(const X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    x509::OpenSslErrors();
    return "unreadable public key";
  }
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_EC) {
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
      return "EC (unknown curve)";
    }
    const absl::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") return "EC P-256";
    if (name == "secp384r1" || name == "P-384") return "EC P-384";
    if (name == "secp521r1" || name == "P-521") return "EC P-521";
    return absl::StrCat("EC ", name);
  }
  if (id == EVP_PKEY_RSA) {
    return absl::StrCat("RSA ", EVP_PKEY_get_bits(key), " bits");
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return type != nullptr ? type : "unknown key type";
}

CertificateStatus IndexEntry::StatusAt(absl::Time now) const {
  if (revoked) return CertificateStatus::kRevoked;
  if (now > not_after) return CertificateStatus::kExpired;
  return CertificateStatus::kValid;
}

CertificateAuthority::CertificateAuthority(std::string dir,
                                           x509::CertPtr cert,
                                           x509::KeyPtr key,
                                           std::vector<IndexEntry> entries)
    : dir_(std::move(dir)),
      cert_(std::move(cert)),
      key_(std::move(key)),
      entries_(std::move(entries)) {}

std::string CertificateAuthority::FilePath(absl::string_view name) const {
  return absl::StrCat(dir_, "/", name);
}

std::string CertificateAuthority::issued_dir() const {
  return FilePath(kIssued);
}

std::string CertificateAuthority::crl_path() const { return FilePath(kCrl); }

absl::StatusOr<CertificateAuthority> CertificateAuthority::Init(
    const std::string& dir, const std::string& common_name,
    absl::Duration validity, absl::Time now) {
  RETURN_IF_ERROR(CheckCommonName(common_name));
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("CA validity must be positive");
  }
  RETURN_IF_ERROR(MakeDirectory(dir, fs::perms::owner_all));
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir));
  for (const char* file : {kCaCert, kCaKey, kIndex}) {
    const std::string path = absl::StrCat(dir, "/", file);
    if (Exists(path)) {
      return absl::AlreadyExistsError(absl::StrCat(
          dir, " already holds a CA (", path,
          " exists); refusing to overwrite it. Use another --dir, or move "
          "the old CA away if you really mean to replace it"));
    }
  }
  std::error_code ec;
  fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot set mode 0700: ", ec.message()));
  }

  ASSIGN_OR_RETURN(x509::KeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(BnPtr serial, RandomSerial());
  ASSIGN_OR_RETURN(x509::CertPtr cert,
                   NewCertificate(serial.get(), common_name, nullptr, now,
                                  now + validity, key.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (X509V3_set_issuer_pkey(&ctx, key.get()) != 1) {
    return OpenSslError("X509V3_set_issuer_pkey");
  }
  // The CA only ever issues leaf certificates, hence pathlen:0.
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints,
                               "critical,CA:TRUE,pathlen:0"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                               "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier,
                               "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx,
                               NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));

  ASSIGN_OR_RETURN(std::string key_pem, x509::PrivateKeyToPem(key.get()));
  ASSIGN_OR_RETURN(std::string cert_pem, x509::CertificateToPem(cert.get()));
  RETURN_IF_ERROR(MakeDirectory(absl::StrCat(dir, "/", kIssued),
                                fs::perms::owner_all));
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/", kCrlNumber),
                                        "1\n", 0644));
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/", kIndex), kIndexHeader, 0644));
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/", kCaKey), key_pem, 0600));
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/", kCaCert), cert_pem, 0644));
  return CertificateAuthority(dir, std::move(cert), std::move(key), {});
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Open(
    const std::string& dir) {
  const std::string cert_path = absl::StrCat(dir, "/", kCaCert);
  if (!Exists(cert_path)) {
    std::error_code ec;
    const bool dir_exists = fs::is_directory(dir, ec);
    return absl::NotFoundError(absl::StrCat(
        dir_exists ? absl::StrCat(dir, " holds no CA (", cert_path,
                                  " is missing)")
                   : absl::StrCat("CA directory ", dir, " does not exist"),
        "; create one with `liaison-certs --dir=", dir,
        " init`, or point --dir (or LIAISON_CA_DIR) at an existing CA"));
  }
  ASSIGN_OR_RETURN(x509::CertPtr cert, x509::ReadCertificateFile(cert_path));
  ASSIGN_OR_RETURN(x509::KeyPtr key,
                   x509::ReadPrivateKeyFile(absl::StrCat(dir, "/", kCaKey)));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    x509::OpenSslErrors();
    return absl::FailedPreconditionError(absl::StrCat(
        dir, "/", kCaKey, " does not belong to ", cert_path,
        "; restore the CA directory from a backup"));
  }
  CertificateAuthority ca(dir, std::move(cert), std::move(key), {});
  RETURN_IF_ERROR(ca.ReloadIndex());
  return ca;
}

absl::Status CertificateAuthority::ReloadIndex() {
  const std::string path = FilePath(kIndex);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is missing; restore the CA directory from a backup"));
  }
  if (!text.ok()) return text.status();
  ASSIGN_OR_RETURN(entries_, ParseIndex(path, *text));
  return absl::OkStatus();
}

absl::Status CertificateAuthority::WriteIndex(
    const std::vector<IndexEntry>& entries) const {
  std::string text = kIndexHeader;
  for (const IndexEntry& e : entries) absl::StrAppend(&text, IndexLine(e));
  return WriteFileAtomic(FilePath(kIndex), text, 0644);
}

bool CertificateAuthority::IsIssuerOf(const X509* cert) const {
  const bool ok =
      X509_check_issued(cert_.get(), const_cast<X509*>(cert)) == X509_V_OK &&
      X509_verify(const_cast<X509*>(cert), X509_get0_pubkey(cert_.get())) == 1;
  x509::OpenSslErrors();
  return ok;
}

}  // namespace liaison::certs
