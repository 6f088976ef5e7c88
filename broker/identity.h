// Who is calling. The TLS handshake has already verified the client
// certificate's chain to the deployment CA and its validity period; the
// Authenticator then checks, on every call, what the handshake cannot
// explain to the caller: the CRL (reloadable without a restart, taking
// effect on open connections too), the single URI SAN, and the registry.
// Refusals carry a message that says what is wrong and what to do.
#ifndef LIAISON_BROKER_IDENTITY_H_
#define LIAISON_BROKER_IDENTITY_H_

#include <grpcpp/security/auth_context.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "broker/basics/clock.h"
#include "broker/basics/principal.h"
#include "broker/basics/x509.h"
#include "broker/registry.h"
#include "liaison/v1/common.pb.h"

namespace liaison {

class Authenticator {
 public:
  // `ca_path` is the deployment CA certificate; `crl_path` may be empty (no
  // revocations). `registry` and `clock` must outlive the authenticator.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const std::string& ca_path, const std::string& crl_path,
      const Registry* registry, const Clock* clock);

  // Re-reads the CRL file. A missing, unreadable, or wrongly signed CRL is an
  // error and the CRL in force stays in force. Returns the number of revoked
  // serials now in force.
  absl::StatusOr<size_t> ReloadCrl();
  // ReloadCrl in two steps, so the reload can be logged in between: reads
  // and checks the file (FAILED_PRECONDITION when no CRL is configured),
  // then puts a list read so in force.
  absl::StatusOr<std::shared_ptr<const x509::RevocationList>> ReadCrl() const;
  // False, leaving the list in force, when `crl` is older than it.
  bool InstallCrl(std::shared_ptr<const x509::RevocationList> crl);
  // The thisUpdate time of the CRL in force; the Unix epoch before any.
  absl::Time CrlThisUpdate() const;
  // Whether `crl` adds nothing to the CRL in force: it is older, or as old
  // and revokes the same serials. thisUpdate has a resolution of one
  // second, so a CRL issued again within the second (a revocation right
  // after the last) is as old but says more.
  bool AddsNothingToCrlInForce(const x509::RevocationList& crl) const;
  const std::string& crl_path() const { return crl_path_; }

  // The caller's principal, or UNAUTHENTICATED (no certificate, revoked,
  // expired, malformed SAN) or PERMISSION_DENIED (broker certificate,
  // unregistered, suspended, sector mismatch, serial not bound).
  absl::StatusOr<v1::Principal> Authenticate(
      const grpc::AuthContext& auth) const;

  // For a stream opened by agency `agency_id` with certificate `serial`:
  // whether it may go on now, after registry or CRL changes. OK, or the
  // refusal Authenticate would give a new call (revoked, unregistered,
  // suspended, serial not bound).
  absl::Status Recheck(const std::string& agency_id,
                       const std::string& serial) const;

  // Whether `serial` is on the CRL in force.
  bool IsRevoked(const std::string& serial) const;

  // Called once for each client certificate this process first accepts
  // (refused ones are not reported), so that expiry can be reported; must
  // not block. Set before calls are
  // served.
  using CertificateObserver = std::function<void(
      const std::string& serial, const std::string& uri, absl::Time not_after)>;
  void set_certificate_observer(CertificateObserver observer) {
    observer_ = std::move(observer);
  }

  // Authenticate, then require the principal to be of one of `allowed`
  // kinds; `service` names the service in the refusal.
  absl::StatusOr<v1::Principal> Authorize(
      const grpc::AuthContext& auth,
      absl::Span<const v1::PrincipalKind> allowed,
      absl::string_view service) const;

 private:
  // What the broker needs from a client certificate, parsed once per
  // distinct certificate.
  struct PresentedCertificate {
    std::string serial;
    std::vector<std::string> uris;
    absl::Time not_after;
  };

  Authenticator(std::string crl_path, x509::CertPtr ca,
                const Registry* registry, const Clock* clock);
  absl::StatusOr<PresentedCertificate> Parse(const std::string& pem) const;
  // Tells the observer of a certificate accepted for the first time.
  void Accepted(const PresentedCertificate& cert) const;
  // The revocation check: UNAUTHENTICATED when `serial` is revoked.
  absl::Status CheckNotRevoked(const std::string& serial) const;
  // The registry's checks of an agency certificate other than its sector;
  // returns the agency.
  absl::StatusOr<v1::Agency> CheckAgency(const std::string& agency_id,
                                         const std::string& serial) const;

  const std::string crl_path_;
  const x509::CertPtr ca_;
  const Registry* const registry_;
  const Clock* const clock_;
  CertificateObserver observer_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const x509::RevocationList> crl_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, PresentedCertificate> parsed_
      ABSL_GUARDED_BY(mu_);
  // Serials already reported to the observer.
  mutable absl::flat_hash_set<std::string> accepted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liaison

#endif  // LIAISON_BROKER_IDENTITY_H_
