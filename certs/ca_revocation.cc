// Revocation and CRLs: CertificateAuthority::Revoke, CrlPem and WriteCrl.
#include <openssl/pem.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "certs/ca.h"
#include "certs/ca_folder.h"
#include "certs/x509_build.h"

namespace liaison::certs {

absl::StatusOr<IndexEntry> CertificateAuthority::Revoke(
    absl::string_view serial, RevocationReason reason, absl::Time now) {
  ASSIGN_OR_RETURN(const std::string wanted, x509::NormalizeSerial(serial));
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  RETURN_IF_ERROR(ReloadIndex());
  std::vector<IndexEntry> entries = entries_;
  for (IndexEntry& e : entries) {
    if (e.serial != wanted) continue;
    if (e.revoked) {
      return absl::FailedPreconditionError(absl::StrCat(
          "certificate ", e.serial, " (", e.principal,
          ") was already revoked on ", Rfc3339(e.revoked_at),
          " (", ReasonName(e.reason), ")"));
    }
    e.revoked = true;
    e.revoked_at = absl::FromTimeT(absl::ToTimeT(now));
    e.reason = reason;
    IndexEntry revoked = e;
    RETURN_IF_ERROR(WriteIndex(entries));
    entries_ = std::move(entries);
    return revoked;
  }
  return absl::NotFoundError(absl::StrCat(
      "this CA (", dir_, ") never issued a certificate with serial ", wanted,
      "; `liaison-certs list` shows the serials it did"));
}

namespace {

// The CRL for `entries`, signed by `key`. See CrlPem for its contents.
absl::StatusOr<std::string> BuildCrl(const X509* ca, EVP_PKEY* key,
                                     const std::vector<IndexEntry>& entries,
                                     uint64_t number, absl::Time this_update,
                                     absl::Time next_update, size_t* listed) {
  x509::CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) != 1) {
    return OpenSslError("X509_CRL_new");
  }
  ASSIGN_OR_RETURN(AsnTimePtr last, NewTime(this_update));
  ASSIGN_OR_RETURN(AsnTimePtr next, NewTime(next_update));
  if (X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslError("setting CRL dates");
  }
  *listed = 0;
  for (const IndexEntry& e : entries) {
    if (!e.revoked) continue;
    RevokedPtr revoked(X509_REVOKED_new());
    BIGNUM* raw = nullptr;
    if (!revoked || BN_hex2bn(&raw, e.serial.c_str()) == 0) {
      return OpenSslError(absl::StrCat("CRL entry for ", e.serial));
    }
    BnPtr serial(raw);
    AsnIntegerPtr serial_asn(BN_to_ASN1_INTEGER(serial.get(), nullptr));
    ASSIGN_OR_RETURN(AsnTimePtr when, NewTime(e.revoked_at));
    if (!serial_asn ||
        X509_REVOKED_set_serialNumber(revoked.get(), serial_asn.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1) {
      return OpenSslError(absl::StrCat("CRL entry for ", e.serial));
    }
    if (e.reason != RevocationReason::kUnspecified) {
      AsnEnumeratedPtr code(ASN1_ENUMERATED_new());
      if (!code ||
          ASN1_ENUMERATED_set(code.get(), static_cast<long>(e.reason)) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(),
                                    0, X509V3_ADD_DEFAULT) != 1) {
        return OpenSslError(absl::StrCat("reason code for ", e.serial));
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return OpenSslError(absl::StrCat("CRL entry for ", e.serial));
    }
    revoked.release();
    ++*listed;
  }
  if (X509_CRL_sort(crl.get()) != 1) return OpenSslError("X509_CRL_sort");

  AsnIntegerPtr crl_number(ASN1_INTEGER_new());
  if (!crl_number || ASN1_INTEGER_set_uint64(crl_number.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0,
                            X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding the CRL number");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, const_cast<X509*>(ca), nullptr, nullptr, crl.get(), 0);
  ExtensionPtr akid(X509V3_EXT_nconf_nid(nullptr, &ctx,
                                         NID_authority_key_identifier,
                                         "keyid:always"));
  if (!akid || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1) {
    return OpenSslError("adding the CRL authorityKeyIdentifier");
  }
  if (X509_CRL_sign(crl.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the CRL");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError("PEM encoding the CRL");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<std::string> CertificateAuthority::CrlPem(
    absl::Time now, absl::Duration next_update, CrlSummary* summary) {
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  return CrlPemLocked(now, next_update, summary);
}

absl::StatusOr<std::string> CertificateAuthority::CrlPemLocked(
    absl::Time now, absl::Duration next_update, CrlSummary* summary) {
  if (next_update <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the CRL's next update must be later "
                                      "than its last update");
  }
  RETURN_IF_ERROR(ReloadIndex());
  const std::string number_path = FilePath(kCrlNumber);
  ASSIGN_OR_RETURN(const uint64_t number, ReadCrlNumber(number_path));
  CrlSummary out;
  out.number = number;
  out.this_update = absl::FromTimeT(absl::ToTimeT(now));
  out.next_update = absl::FromTimeT(absl::ToTimeT(now + next_update));
  ASSIGN_OR_RETURN(std::string pem,
                   BuildCrl(cert_.get(), key_.get(), entries_, number,
                            out.this_update, out.next_update, &out.revoked));
  // Consume the number before anyone sees the CRL, so no two CRLs share one.
  RETURN_IF_ERROR(WriteFileAtomic(
      number_path, absl::StrCat(number + 1, "\n"), 0644));
  if (summary != nullptr) *summary = out;
  return pem;
}

absl::StatusOr<CrlSummary> CertificateAuthority::WriteCrl(
    const std::string& path, absl::Time now, absl::Duration next_update) {
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  CrlSummary summary;
  ASSIGN_OR_RETURN(std::string pem, CrlPemLocked(now, next_update, &summary));
  RETURN_IF_ERROR(WriteFileAtomic(path, pem, 0644));
  return summary;
}

}  // namespace liaison::certs
