// CertificateAuthority::Issue: a new key and leaf certificate, written
// out and recorded in the index.
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/files.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "certs/ca.h"
#include "certs/ca_folder.h"
#include "certs/x509_build.h"

namespace liaison::certs {
namespace {

namespace fs = std::filesystem;

}  // namespace

absl::StatusOr<IssuedCertificate> CertificateAuthority::Issue(
    const IssueSpec& spec, const std::string& out_dir, bool overwrite) {
  RETURN_IF_ERROR(CheckCommonName(spec.common_name));
  RETURN_IF_ERROR(CheckLabel(spec.label));
  if (out_dir.empty() || HasControlCharacter(out_dir)) {
    return absl::InvalidArgumentError(
        "output folder must be a non-empty path without control characters");
  }
  if (spec.validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("validity must be positive");
  }
  const absl::Time not_before = absl::FromTimeT(absl::ToTimeT(spec.not_before));
  const absl::Time not_after =
      absl::FromTimeT(absl::ToTimeT(spec.not_before + spec.validity));
  const absl::Time ca_not_after = x509::NotAfter(cert_.get());
  if (not_after > ca_not_after) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the certificate would be valid until ", Rfc3339(not_after),
        ", after the CA certificate expires (", Rfc3339(ca_not_after),
        "); issue it for a shorter time"));
  }

  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(dir_));
  RETURN_IF_ERROR(ReloadIndex());
  IssuedCertificate issued;
  issued.cert_path = absl::StrCat(out_dir, "/", spec.label, ".crt");
  issued.key_path = absl::StrCat(out_dir, "/", spec.label, ".key");
  if (!overwrite) {
    for (const std::string& path : {issued.cert_path, issued.key_path}) {
      if (Exists(path)) {
        return absl::AlreadyExistsError(absl::StrCat(
            path, " already exists; refusing to overwrite it (use --force "
                  "to replace the files; the certificate they hold stays "
                  "valid until revoked)"));
      }
    }
  }

  ASSIGN_OR_RETURN(x509::KeyPtr key, GenerateP256Key());
  BnPtr serial;
  while (true) {
    ASSIGN_OR_RETURN(serial, RandomSerial());
    issued.serial = BnHex(serial.get());
    bool taken = false;
    for (const IndexEntry& e : entries_) taken = taken || e.serial == issued.serial;
    if (!taken) break;
  }
  ASSIGN_OR_RETURN(
      x509::CertPtr cert,
      NewCertificate(serial.get(), spec.common_name,
                     X509_get_subject_name(cert_.get()), not_before,
                     not_after, key.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert_.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_basic_constraints, "CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                               "critical,digitalSignature"));
  if (spec.server_auth || spec.client_auth) {
    const char* usage = spec.server_auth && spec.client_auth
                            ? "serverAuth,clientAuth"
                            : (spec.server_auth ? "serverAuth" : "clientAuth");
    RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_ext_key_usage, usage));
  }
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier,
                               "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx,
                               NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), spec));
  RETURN_IF_ERROR(Sign(cert.get(), key_.get()));

  ASSIGN_OR_RETURN(std::string key_pem, x509::PrivateKeyToPem(key.get()));
  ASSIGN_OR_RETURN(std::string cert_pem, x509::CertificateToPem(cert.get()));

  IndexEntry entry;
  entry.serial = issued.serial;
  absl::StatusOr<PrincipalName> principal = CertificatePrincipal(cert.get());
  entry.kind = principal.ok() ? std::string(KindName(principal->kind)) : "other";
  entry.principal =
      spec.uri_sans.empty() ? "-" : absl::StrJoin(spec.uri_sans, " ");
  entry.subject = x509::SubjectLine(cert.get());
  entry.not_before = not_before;
  entry.not_after = not_after;

  RETURN_IF_ERROR(MakeDirectory(out_dir, fs::perms::owner_all));
  entry.cert_path = IndexPath(dir_, out_dir, spec.label + ".crt");
  std::vector<IndexEntry> entries = entries_;
  entries.push_back(entry);

  absl::Status written = WriteFileAtomic(issued.key_path, key_pem, 0600);
  if (written.ok()) {
    written = WriteFileAtomic(issued.cert_path, cert_pem, 0644);
  }
  if (written.ok()) written = WriteIndex(entries);
  if (!written.ok()) {
    ::unlink(issued.key_path.c_str());
    ::unlink(issued.cert_path.c_str());
    return written;
  }
  entries_ = std::move(entries);
  issued.not_before = not_before;
  issued.not_after = not_after;
  return issued;
}

}  // namespace liaison::certs
