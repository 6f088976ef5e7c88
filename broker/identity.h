// Who is calling. The TLS handshake has already verified the client
// certificate's chain to the deployment CA and its validity period; the
// Authenticator then checks, on every call, what the handshake cannot
// explain to the caller: the CRL (reloadable without a restart, taking
// effect on open connections too), the single URI SAN, and the registry.
// Refusals carry a message that says what is wrong and what to do.
#ifndef LIAISON_BROKER_IDENTITY_H_
#define LIAISON_BROKER_IDENTITY_H_

#include <grpcpp/security/auth_context.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "broker/clock.h"
#include "broker/principal.h"
#include "broker/registry.h"
#include "certs/x509.h"
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

  // The caller's principal, or UNAUTHENTICATED (no certificate, revoked,
  // expired, malformed SAN) or PERMISSION_DENIED (broker certificate,
  // unregistered, suspended, sector mismatch, serial not bound).
  absl::StatusOr<v1::Principal> Authenticate(
      const grpc::AuthContext& auth) const;

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

  const std::string crl_path_;
  const x509::CertPtr ca_;
  const Registry* const registry_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const x509::RevocationList> crl_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, PresentedCertificate> parsed_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace liaison

#endif  // LIAISON_BROKER_IDENTITY_H_
