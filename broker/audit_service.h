// liaison.v1.Audit: the API for auditors (DESIGN.md section 8). Every
// method first authorises the caller as a registered auditor, then limits
// it to its scope: the whole deployment ("*"), one jurisdiction or one
// agency. An entry is in scope when its acting agency or its counterpart is.
#ifndef LIAISON_BROKER_AUDIT_SERVICE_H_
#define LIAISON_BROKER_AUDIT_SERVICE_H_

#include <optional>
#include <string>
#include <vector>

#include "broker/basics/clock.h"
#include "broker/identity.h"
#include "broker/pseudonym.h"
#include "broker/registry.h"
#include "broker/service_support.h"
#include "broker/store/store.h"
#include "liaison/v1/audit.grpc.pb.h"

namespace liaison {

class AuditService final : public v1::Audit::CallbackService {
 public:
  // Everything passed must outlive the service. `public_key` is the raw
  // Ed25519 key that signs tree heads.
  AuditService(const Authenticator* auth, const Registry* registry,
               Store* store, const Pseudonymizer* pseudonyms,
               const Clock* clock, std::string public_key);

  grpc::ServerUnaryReactor* QueryLog(grpc::CallbackServerContext* ctx,
                                     const v1::QueryLogRequest* request,
                                     v1::QueryLogResponse* response) override;
  grpc::ServerWriteReactor<v1::ExportedEntry>* ExportLog(
      grpc::CallbackServerContext* ctx,
      const v1::ExportLogRequest* request) override;
  grpc::ServerUnaryReactor* SubjectAccessReport(
      grpc::CallbackServerContext* ctx,
      const v1::SubjectAccessReportRequest* request,
      v1::SubjectAccessReportResponse* response) override;
  grpc::ServerUnaryReactor* ListOverrideReviews(
      grpc::CallbackServerContext* ctx,
      const v1::ListOverrideReviewsRequest* request,
      v1::ListOverrideReviewsResponse* response) override;
  grpc::ServerUnaryReactor* ReviewOverride(
      grpc::CallbackServerContext* ctx,
      const v1::ReviewOverrideRequest* request,
      v1::ReviewOverrideResponse* response) override;
  grpc::ServerUnaryReactor* GetTreeHead(
      grpc::CallbackServerContext* ctx, const v1::GetTreeHeadRequest* request,
      v1::GetTreeHeadResponse* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(
      grpc::CallbackServerContext* ctx,
      const v1::GetInclusionProofRequest* request,
      v1::InclusionProof* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(
      grpc::CallbackServerContext* ctx,
      const v1::GetConsistencyProofRequest* request,
      v1::ConsistencyProof* response) override;

 private:
  // The calling auditor and the agencies it may see (nullopt: all), with
  // its own principal URI, so its own ACCESS entries are in its scope.
  struct Caller {
    v1::Principal principal;
    std::optional<std::vector<std::string>> scope;
  };
  absl::StatusOr<Caller> Authorize(grpc::CallbackServerContext* ctx) const;
  // The filter as a store query limited to the caller's scope.
  absl::StatusOr<LogQuery> ToQuery(const v1::LogFilter& filter,
                                   const Caller& caller) const;
  // The ACCESS entry for the caller's `call`: for a call with a filter,
  // the filter's words, its subject by pseudonym and its agency as the
  // counterpart.
  // The subject access report from query `q`, once its ACCESS entry is in.
  void Report(LogQuery q, grpc::ServerUnaryReactor* reactor,
              v1::SubjectAccessReportResponse* response) const;
  v1::LogEntry Access(grpc::CallbackServerContext* ctx, const Caller& caller,
                      absl::string_view call,
                      const v1::LogFilter* filter) const;

  static constexpr v1::PrincipalKind kAllowed[] = {v1::PRINCIPAL_KIND_AUDITOR};
  static constexpr absl::string_view kServiceName = "Audit";
  const Authenticator* const auth_;
  const Registry* const registry_;
  Store* const store_;
  const Pseudonymizer* const pseudonyms_;
  const Clock* const clock_;
  const std::string public_key_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_AUDIT_SERVICE_H_
