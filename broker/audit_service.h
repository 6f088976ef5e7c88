// liaison.v1.Audit: the API for auditors. Every method first authorises the
// caller as a registered auditor.
#ifndef LIAISON_BROKER_AUDIT_SERVICE_H_
#define LIAISON_BROKER_AUDIT_SERVICE_H_

#include "broker/identity.h"
#include "broker/service_support.h"
#include "liaison/v1/audit.grpc.pb.h"

namespace liaison {

class AuditService final : public v1::Audit::CallbackService {
 public:
  // `auth` must outlive the service.
  explicit AuditService(const Authenticator* auth) : auth_(auth) {}

  LIAISON_PENDING_UNARY(QueryLog, QueryLogRequest, QueryLogResponse)
  LIAISON_PENDING_STREAM(ExportLog, ExportLogRequest, ExportedEntry)
  LIAISON_PENDING_UNARY(SubjectAccessReport, SubjectAccessReportRequest,
                        SubjectAccessReportResponse)
  LIAISON_PENDING_UNARY(ListOverrideReviews, ListOverrideReviewsRequest,
                        ListOverrideReviewsResponse)
  LIAISON_PENDING_UNARY(ReviewOverride, ReviewOverrideRequest,
                        ReviewOverrideResponse)
  LIAISON_PENDING_UNARY(GetTreeHead, GetTreeHeadRequest, GetTreeHeadResponse)
  LIAISON_PENDING_UNARY(GetInclusionProof, GetInclusionProofRequest,
                        InclusionProof)
  LIAISON_PENDING_UNARY(GetConsistencyProof, GetConsistencyProofRequest,
                        ConsistencyProof)

 private:
  static constexpr v1::PrincipalKind kAllowed[] = {v1::PRINCIPAL_KIND_AUDITOR};
  static constexpr absl::string_view kServiceName = "Audit";
  const Authenticator* const auth_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_AUDIT_SERVICE_H_
