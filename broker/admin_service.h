// liaison.v1.Admin: the API for administrators. Every method first
// authorises the caller as an admin.
#ifndef LIAISON_BROKER_ADMIN_SERVICE_H_
#define LIAISON_BROKER_ADMIN_SERVICE_H_

#include <functional>
#include <string>

#include "broker/clock.h"
#include "broker/identity.h"
#include "broker/service_support.h"
#include "broker/store.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "policy/policy_set.h"

namespace liaison {

class AdminService final : public v1::Admin::CallbackService {
 public:
  // Every pointer must outlive the service.
  AdminService(const Authenticator* auth, policy::PolicyInForce* policy,
               Store* store, const Clock* clock)
      : auth_(auth), policy_(policy), store_(store), clock_(clock) {}

  LIAISON_PENDING_UNARY(RegisterAgency, RegisterAgencyRequest, Agency)
  LIAISON_PENDING_UNARY(SuspendAgency, SetAgencyStatusRequest, Agency)
  LIAISON_PENDING_UNARY(ReactivateAgency, SetAgencyStatusRequest, Agency)
  LIAISON_PENDING_UNARY(ListAgencies, ListAgenciesRequest, ListAgenciesResponse)
  LIAISON_PENDING_UNARY(BindCertificate, BindCertificateRequest, Agency)
  LIAISON_PENDING_UNARY(UnbindCertificate, BindCertificateRequest, Agency)
  LIAISON_PENDING_UNARY(SetRoute, Route, Route)
  LIAISON_PENDING_UNARY(RemoveRoute, Route, RemoveRouteResponse)
  LIAISON_PENDING_UNARY(ListRoutes, ListRoutesRequest, ListRoutesResponse)
  grpc::ServerUnaryReactor* ReloadPolicy(grpc::CallbackServerContext* ctx,
                                         const v1::ReloadRequest* request,
                                         v1::ReloadResponse* response) override;
  LIAISON_PENDING_UNARY(ReloadCrl, ReloadRequest, ReloadResponse)
  LIAISON_PENDING_UNARY(GetStatus, GetStatusRequest, BrokerStatus)

 private:
  static constexpr v1::PrincipalKind kAllowed[] = {v1::PRINCIPAL_KIND_ADMIN};
  static constexpr absl::string_view kServiceName = "Admin";
  const Authenticator* const auth_;
  policy::PolicyInForce* const policy_;
  Store* const store_;
  const Clock* const clock_;
};

// Loads the policy folder, logs the attempt as an ADMIN entry by `actor`
// (a refused set is logged too, as not allowed), and only once the entry is
// durable puts a set that checks in force. `done` gets the new set's
// version, or INVALID_ARGUMENT with every file:line problem, or the log's
// error (then nothing changed).
void ReloadPolicyLogged(policy::PolicyInForce* policy, Store* store,
                        const Clock* clock, const std::string& actor,
                        const v1::Professional& professional,
                        std::function<void(absl::StatusOr<std::string>)> done);

}  // namespace liaison

#endif  // LIAISON_BROKER_ADMIN_SERVICE_H_
