// liaison.v1.Admin: the API for administrators. Every method first
// authorises the caller as an admin.
#ifndef LIAISON_BROKER_ADMIN_SERVICE_H_
#define LIAISON_BROKER_ADMIN_SERVICE_H_

#include "broker/identity.h"
#include "broker/service_support.h"
#include "liaison/v1/admin.grpc.pb.h"

namespace liaison {

class AdminService final : public v1::Admin::CallbackService {
 public:
  // `auth` must outlive the service.
  explicit AdminService(const Authenticator* auth) : auth_(auth) {}

  LIAISON_PENDING_UNARY(RegisterAgency, RegisterAgencyRequest, Agency)
  LIAISON_PENDING_UNARY(SuspendAgency, SetAgencyStatusRequest, Agency)
  LIAISON_PENDING_UNARY(ReactivateAgency, SetAgencyStatusRequest, Agency)
  LIAISON_PENDING_UNARY(ListAgencies, ListAgenciesRequest, ListAgenciesResponse)
  LIAISON_PENDING_UNARY(BindCertificate, BindCertificateRequest, Agency)
  LIAISON_PENDING_UNARY(UnbindCertificate, BindCertificateRequest, Agency)
  LIAISON_PENDING_UNARY(SetRoute, Route, Route)
  LIAISON_PENDING_UNARY(RemoveRoute, Route, RemoveRouteResponse)
  LIAISON_PENDING_UNARY(ListRoutes, ListRoutesRequest, ListRoutesResponse)
  LIAISON_PENDING_UNARY(ReloadPolicy, ReloadRequest, ReloadResponse)
  LIAISON_PENDING_UNARY(ReloadCrl, ReloadRequest, ReloadResponse)
  LIAISON_PENDING_UNARY(GetStatus, GetStatusRequest, BrokerStatus)

 private:
  static constexpr v1::PrincipalKind kAllowed[] = {v1::PRINCIPAL_KIND_ADMIN};
  static constexpr absl::string_view kServiceName = "Admin";
  const Authenticator* const auth_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_ADMIN_SERVICE_H_
