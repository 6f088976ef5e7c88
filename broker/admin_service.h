// liaison.v1.Admin: the API for administrators. Every method first
// authorises the caller as an admin; every change is recorded in the
// disclosure log as an ADMIN entry in the same commit as the change.
#ifndef LIAISON_BROKER_ADMIN_SERVICE_H_
#define LIAISON_BROKER_ADMIN_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "broker/basics/clock.h"
#include "broker/identity.h"
#include "broker/inbox_waiters.h"
#include "broker/registry.h"
#include "broker/server_identity.h"
#include "broker/service_support.h"
#include "broker/store/store.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "policy/policy_set.h"

namespace liaison {

// What the Admin service and the broker's own reports work with. Every
// pointer must outlive the users.
struct AdminContext {
  Authenticator* auth = nullptr;
  Registry* registry = nullptr;
  policy::PolicyInForce* policy = nullptr;
  Store* store = nullptr;
  const Clock* clock = nullptr;
  InboxWaiters* waiters = nullptr;
  const ServerIdentity* server = nullptr;
  // When this broker process started.
  absl::Time started_at;
  // The expiry report's default window.
  absl::Duration expiring_within = absl::Hours(24 * 30);
};

class AdminService final : public v1::Admin::CallbackService {
 public:
  explicit AdminService(AdminContext context) : c_(std::move(context)) {}

  grpc::ServerUnaryReactor* RegisterAgency(
      grpc::CallbackServerContext* ctx,
      const v1::RegisterAgencyRequest* request, v1::Agency* response) override;
  grpc::ServerUnaryReactor* SuspendAgency(
      grpc::CallbackServerContext* ctx,
      const v1::SetAgencyStatusRequest* request, v1::Agency* response) override;
  grpc::ServerUnaryReactor* ReactivateAgency(
      grpc::CallbackServerContext* ctx,
      const v1::SetAgencyStatusRequest* request, v1::Agency* response) override;
  grpc::ServerUnaryReactor* ListAgencies(
      grpc::CallbackServerContext* ctx, const v1::ListAgenciesRequest* request,
      v1::ListAgenciesResponse* response) override;
  grpc::ServerUnaryReactor* BindCertificate(
      grpc::CallbackServerContext* ctx,
      const v1::BindCertificateRequest* request, v1::Agency* response) override;
  grpc::ServerUnaryReactor* UnbindCertificate(
      grpc::CallbackServerContext* ctx,
      const v1::BindCertificateRequest* request, v1::Agency* response) override;
  grpc::ServerUnaryReactor* SetRoute(grpc::CallbackServerContext* ctx,
                                     const v1::Route* request,
                                     v1::Route* response) override;
  grpc::ServerUnaryReactor* RemoveRoute(
      grpc::CallbackServerContext* ctx, const v1::Route* request,
      v1::RemoveRouteResponse* response) override;
  grpc::ServerUnaryReactor* ListRoutes(
      grpc::CallbackServerContext* ctx, const v1::ListRoutesRequest* request,
      v1::ListRoutesResponse* response) override;
  grpc::ServerUnaryReactor* ReloadPolicy(grpc::CallbackServerContext* ctx,
                                         const v1::ReloadRequest* request,
                                         v1::ReloadResponse* response) override;
  grpc::ServerUnaryReactor* ReloadCrl(grpc::CallbackServerContext* ctx,
                                      const v1::ReloadRequest* request,
                                      v1::ReloadResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* request,
                                      v1::BrokerStatus* response) override;

 private:
  static constexpr v1::PrincipalKind kAllowed[] = {v1::PRINCIPAL_KIND_ADMIN};
  static constexpr absl::string_view kServiceName = "Admin";

  // The caller as an admin, and the start of the ADMIN entry recording
  // what it does.
  absl::StatusOr<v1::LogEntry> Begin(grpc::CallbackServerContext* ctx) const;
  // SuspendAgency or ReactivateAgency, as `status` says.
  grpc::ServerUnaryReactor* ChangeStatus(
      grpc::CallbackServerContext* ctx,
      const v1::SetAgencyStatusRequest& request, v1::AgencyStatus status,
      v1::Agency* response) const;
  // BindCertificate (`bind`) or UnbindCertificate.
  grpc::ServerUnaryReactor* ChangeBinding(
      grpc::CallbackServerContext* ctx,
      const v1::BindCertificateRequest& request, bool bind,
      v1::Agency* response) const;
  // FAILED_PRECONDITION when the policy set in force does not define the
  // agency's sector or jurisdiction.
  absl::Status KnownToPolicy(const v1::Agency& agency) const;
  // What finishes an agency change once the registry has made it: the
  // agency in `response`, the open streams the registry no longer accepts
  // ended, then the answer.
  std::function<void(absl::StatusOr<v1::Agency>)> FinishAgency(
      grpc::ServerUnaryReactor* reactor, v1::Agency* response) const;

  const AdminContext c_;
};

// Why a broker reloads its configuration.
enum class ReloadCause {
  // An administrator asked this broker (Admin call or SIGHUP): the reload
  // is logged even when nothing changed, and once in force announced to
  // the other brokers on the store.
  kAsked,
  // Another broker on the store announced a reload: this one re-reads its
  // own files, and logs and installs only what differs from what it has.
  kFollowing,
};

// Loads the policy folder, logs the attempt as an ADMIN entry by `actor`
// (a refused set is logged too, as not allowed), and only once the entry is
// durable puts a set that checks in force. `done` gets the new set's
// version, or INVALID_ARGUMENT with every file:line problem, or the log's
// error (then nothing changed). Following another broker, a set whose
// version is already in force is neither logged nor installed again.
void ReloadPolicyLogged(policy::PolicyInForce* policy, Store* store,
                        const Clock* clock, const std::string& actor,
                        const v1::Professional& professional, ReloadCause cause,
                        std::function<void(absl::StatusOr<std::string>)> done);

// The same for the CRL: reads it, logs the attempt, and once the entry is
// durable puts it in force and ends the Receive streams of certificates it
// revokes. `done` gets the number of revoked serials, or the error (then
// the CRL in force stays). Following another broker, a CRL issued at the
// same time as the one in force is left alone.
void ReloadCrlLogged(const AdminContext& c, const std::string& actor,
                     const v1::Professional& professional, ReloadCause cause,
                     std::function<void(absl::StatusOr<size_t>)> done);

// Ends every open Receive stream whose agency or certificate the registry
// or the CRL no longer accepts; returns how many.
int EndRefusedStreams(const AdminContext& c);

// Certificates the broker knows that expire within `within` of now,
// soonest first: the deployment CA's, the broker's own, and for each
// client principal seen, its newest unrevoked certificate.
void ExpiringCertificates(
    const AdminContext& c, absl::Duration within,
    std::function<void(
        absl::StatusOr<std::vector<v1::BrokerStatus::ExpiringCertificate>>)>
        done);

}  // namespace liaison

#endif  // LIAISON_BROKER_ADMIN_SERVICE_H_
