// liaison.v1.Identity: WhoAmI for every registered principal kind.
#ifndef LIAISON_BROKER_IDENTITY_SERVICE_H_
#define LIAISON_BROKER_IDENTITY_SERVICE_H_

#include "broker/identity.h"
#include "liaison/v1/identity.grpc.pb.h"

namespace liaison {

class IdentityService final : public v1::Identity::CallbackService {
 public:
  // `auth` must outlive the service.
  explicit IdentityService(const Authenticator* auth) : auth_(auth) {}

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx,
                                   const v1::WhoAmIRequest* request,
                                   v1::WhoAmIResponse* response) override;

 private:
  const Authenticator* const auth_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_IDENTITY_SERVICE_H_
