#include "broker/identity.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"

namespace liaison {
namespace {

// Bound on the parsed-certificate cache; it is cleared when full.
constexpr size_t kMaxCachedCertificates = 4096;

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const std::string& ca_path, const std::string& crl_path,
    const Registry* registry, const Clock* clock) {
  ASSIGN_OR_RETURN(x509::CertPtr ca, x509::ReadCertificateFile(ca_path));
  std::unique_ptr<Authenticator> auth(
      new Authenticator(crl_path, std::move(ca), registry, clock));
  if (!crl_path.empty()) {
    RETURN_IF_ERROR(auth->ReloadCrl().status());
  }
  return auth;
}

Authenticator::Authenticator(std::string crl_path, x509::CertPtr ca,
                             const Registry* registry, const Clock* clock)
    : crl_path_(std::move(crl_path)),
      ca_(std::move(ca)),
      registry_(registry),
      clock_(clock),
      crl_(std::make_shared<x509::RevocationList>()) {}

absl::StatusOr<std::shared_ptr<const x509::RevocationList>>
Authenticator::ReadCrl() const {
  if (crl_path_.empty()) {
    return absl::FailedPreconditionError(
        "no CRL file is configured (set crl in the config or --crl)");
  }
  ASSIGN_OR_RETURN(x509::RevocationList list,
                   x509::ReadCrlFile(crl_path_, ca_.get()));
  return std::make_shared<const x509::RevocationList>(std::move(list));
}

bool Authenticator::InstallCrl(
    std::shared_ptr<const x509::RevocationList> crl) {
  absl::MutexLock lock(&mu_);
  // Two reloads racing across a change of the file must not leave the
  // older list in force.
  if (crl->this_update < crl_->this_update) return false;
  crl_ = std::move(crl);
  return true;
}

absl::Time Authenticator::CrlThisUpdate() const {
  absl::MutexLock lock(&mu_);
  return crl_->this_update;
}

bool Authenticator::AddsNothingToCrlInForce(
    const x509::RevocationList& crl) const {
  absl::MutexLock lock(&mu_);
  if (crl.this_update != crl_->this_update) {
    return crl.this_update < crl_->this_update;
  }
  return crl.revoked == crl_->revoked;
}

absl::StatusOr<size_t> Authenticator::ReloadCrl() {
  ASSIGN_OR_RETURN(std::shared_ptr<const x509::RevocationList> next, ReadCrl());
  const size_t count = next->revoked.size();
  InstallCrl(std::move(next));
  return count;
}

absl::StatusOr<Authenticator::PresentedCertificate> Authenticator::Parse(
    const std::string& pem) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = parsed_.find(pem);
    if (it != parsed_.end()) return it->second;
  }
  absl::StatusOr<x509::CertPtr> cert = x509::ParseCertificatePem(pem);
  if (!cert.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the client certificate could not be read: ", cert.status().message()));
  }
  PresentedCertificate parsed{x509::SerialHex(cert->get()),
                              x509::UriSans(cert->get()),
                              x509::NotAfter(cert->get())};
  absl::MutexLock lock(&mu_);
  if (parsed_.size() >= kMaxCachedCertificates) parsed_.clear();
  parsed_.emplace(pem, parsed);
  return parsed;
}

absl::Status Authenticator::CheckNotRevoked(const std::string& serial) const {
  std::shared_ptr<const x509::RevocationList> crl;
  {
    absl::MutexLock lock(&mu_);
    crl = crl_;
  }
  if (auto it = crl->revoked.find(serial); it != crl->revoked.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate serial ", serial, " was revoked on ", Rfc3339(it->second),
        "; ask your administrator for a new certificate"));
  }
  return absl::OkStatus();
}

bool Authenticator::IsRevoked(const std::string& serial) const {
  return !CheckNotRevoked(serial).ok();
}

absl::StatusOr<v1::Agency> Authenticator::CheckAgency(
    const std::string& agency_id, const std::string& serial) const {
  std::optional<v1::Agency> agency = registry_->FindAgency(agency_id);
  if (!agency) {
    return absl::PermissionDeniedError(absl::StrCat(
        "agency \"", agency_id,
        "\" is not registered with this broker; an administrator must "
        "register it before its certificate can be used"));
  }
  if (agency->status() == v1::AGENCY_STATUS_SUSPENDED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "agency \"", agency_id, "\" is suspended",
        agency->status_reason().empty() ? "" : ": ", agency->status_reason(),
        "; contact the administrator of this deployment"));
  }
  if (agency->certificate_serials_size() > 0 &&
      std::find(agency->certificate_serials().begin(),
                agency->certificate_serials().end(),
                serial) == agency->certificate_serials().end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate serial ", serial, " is not bound to agency \"", agency_id,
        "\"; an administrator must bind it"));
  }
  return *std::move(agency);
}

void Authenticator::Accepted(const PresentedCertificate& cert) const {
  if (!observer_) return;
  {
    absl::MutexLock lock(&mu_);
    if (accepted_.size() >= kMaxCachedCertificates) accepted_.clear();
    if (!accepted_.insert(cert.serial).second) return;
  }
  observer_(cert.serial, cert.uris[0], cert.not_after);
}

absl::Status Authenticator::Recheck(const std::string& agency_id,
                                    const std::string& serial) const {
  RETURN_IF_ERROR(CheckNotRevoked(serial));
  return CheckAgency(agency_id, serial).status();
}

absl::StatusOr<v1::Principal> Authenticator::Authenticate(
    const grpc::AuthContext& auth) const {
  std::vector<grpc::string_ref> pems =
      auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) {
    return absl::UnauthenticatedError(
        "no client certificate was presented; Liaison requires mutual TLS "
        "with a certificate issued by the deployment CA");
  }
  ASSIGN_OR_RETURN(PresentedCertificate cert,
                   Parse(std::string(pems[0].data(), pems[0].size())));

  RETURN_IF_ERROR(CheckNotRevoked(cert.serial));
  const absl::Time now = clock_->Now();
  if (cert.not_after < now) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate serial ", cert.serial, " expired on ",
        Rfc3339(cert.not_after), "; ask your administrator to renew it"));
  }
  if (cert.uris.size() != 1) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate serial ", cert.serial, " has ", cert.uris.size(),
        " URI SANs", cert.uris.empty() ? "" : " (",
        absl::StrJoin(cert.uris, ", "), cert.uris.empty() ? "" : ")",
        "; a Liaison certificate carries exactly one URI SAN naming its "
        "principal. Issue a new one with liaison-certs"));
  }
  absl::StatusOr<PrincipalName> name = ParsePrincipalUri(cert.uris[0]);
  if (!name.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate serial ", cert.serial,
        " does not name a valid principal: ", name.status().message()));
  }

  v1::Principal principal;
  principal.set_kind(name->kind);
  principal.set_uri(cert.uris[0]);
  principal.set_id(name->id);
  principal.set_sector(name->sector);
  principal.set_certificate_serial(cert.serial);
  principal.mutable_certificate_not_after()->set_seconds(
      absl::ToUnixSeconds(cert.not_after));

  switch (name->kind) {
    case v1::PRINCIPAL_KIND_BROKER:
      return absl::PermissionDeniedError(absl::StrCat(
          "certificate ", cert.uris[0],
          " is a broker server certificate and cannot call the API; use an "
          "agency, auditor or admin certificate"));
    case v1::PRINCIPAL_KIND_ADMIN:
      Accepted(cert);
      return principal;
    case v1::PRINCIPAL_KIND_AUDITOR: {
      std::optional<v1::Auditor> auditor = registry_->FindAuditor(name->id);
      if (!auditor) {
        return absl::PermissionDeniedError(absl::StrCat(
            "auditor \"", name->id,
            "\" is not registered with this broker; an administrator must "
            "add it to the registry"));
      }
      principal.set_display_name(auditor->display_name());
      principal.set_jurisdiction(auditor->scope());
      Accepted(cert);
      return principal;
    }
    case v1::PRINCIPAL_KIND_AGENCY:
      break;
    default:
      // ParsePrincipalUri names only the kinds above.
      return absl::PermissionDeniedError(absl::StrCat(
          "certificate ", cert.uris[0], " names no kind of caller"));
  }
  ASSIGN_OR_RETURN(v1::Agency agency, CheckAgency(name->id, cert.serial));
  if (agency.sector() != name->sector) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate names agency \"", name->id, "\" in sector \"",
        name->sector, "\" but the registry has it in sector \"",
        agency.sector(), "\"; issue a certificate with the registered sector"));
  }
  principal.set_display_name(agency.display_name());
  principal.set_jurisdiction(agency.jurisdiction());
  Accepted(cert);
  return principal;
}

absl::StatusOr<v1::Principal> Authenticator::Authorize(
    const grpc::AuthContext& auth, absl::Span<const v1::PrincipalKind> allowed,
    absl::string_view service) const {
  ASSIGN_OR_RETURN(v1::Principal principal, Authenticate(auth));
  for (v1::PrincipalKind kind : allowed) {
    if (principal.kind() == kind) return principal;
  }
  std::vector<absl::string_view> names;
  for (v1::PrincipalKind kind : allowed) names.push_back(KindName(kind));
  return absl::PermissionDeniedError(absl::StrCat(
      "the ", service, " service accepts ", absl::StrJoin(names, " or "),
      " certificates only; this call presented ", principal.uri()));
}

}  // namespace liaison
