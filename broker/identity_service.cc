#include "broker/identity_service.h"

#include "broker/service_support.h"

namespace liaison {

grpc::ServerUnaryReactor* IdentityService::WhoAmI(
    grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* /*request*/,
    v1::WhoAmIResponse* response) {
  absl::StatusOr<v1::Principal> principal =
      auth_->Authorize(*ctx->auth_context(),
                       {v1::PRINCIPAL_KIND_AGENCY, v1::PRINCIPAL_KIND_AUDITOR,
                        v1::PRINCIPAL_KIND_ADMIN},
                       "Identity");
  if (!principal.ok()) return FinishUnary(ctx, principal.status());
  *response->mutable_principal() = *std::move(principal);
  response->set_broker_version(LIAISON_VERSION);
  return FinishUnary(ctx, absl::OkStatus());
}

}  // namespace liaison
