// What every service needs at its edge: absl::Status to grpc::Status, and
// reactors that answer at once.
#ifndef LIAISON_BROKER_SERVICE_SUPPORT_H_
#define LIAISON_BROKER_SERVICE_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "broker/log/message_util.h"
#include "broker/store/store.h"
#include "liaison/v1/common.pb.h"
#include "liaison/v1/log.pb.h"

namespace liaison {

// Maps an absl::Status to the grpc::Status sent to the caller; the codes
// share numbering.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// Finishes a unary call with `status`.
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* ctx,
                                             const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// A server-streaming reactor that ends the stream at once with `status`,
// used when a call is refused before any message is written.
template <typename Message>
class RefusedStream final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit RefusedStream(const absl::Status& status) {
    this->Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

// The same for a bidirectional stream.
template <typename Request, typename Response>
class RefusedBidiStream final
    : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedBidiStream(const absl::Status& status) {
    this->Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

// The professional the agency system named in the call's metadata
// ("liaison-professional-id", "liaison-professional-role"); empty when none.
// Each value is logged, so each is cut to kQuoteLimit bytes and marked so
// (Bounded).
inline v1::Professional ProfessionalOf(const grpc::CallbackServerContext* ctx) {
  v1::Professional p;
  const auto& md = ctx->client_metadata();
  if (auto it = md.find("liaison-professional-id"); it != md.end()) {
    p.set_id(Bounded(absl::string_view(it->second.data(), it->second.size())));
  }
  if (auto it = md.find("liaison-professional-role"); it != md.end()) {
    p.set_role(
        Bounded(absl::string_view(it->second.data(), it->second.size())));
  }
  return p;
}

// Log before release, for reads (DESIGN.md rule 10): appends `access`
// (an ACCESS entry for what the call read, already in its response) and
// only then finishes the call with OK; if the log cannot take the entry,
// the call fails and the response is never sent.
inline void FinishAfterAccess(Store* store, grpc::ServerUnaryReactor* reactor,
                              v1::LogEntry access) {
  store->RecordAccess(
      std::move(access), [reactor](absl::StatusOr<uint64_t> seq) {
        reactor->Finish(
            ToGrpcStatus(seq.ok() ? absl::OkStatus()
                                  : absl::UnavailableError(absl::StrCat(
                                        "the read could not be logged, so "
                                        "nothing was returned: ",
                                        seq.status().message()))));
      });
}

}  // namespace liaison

#endif  // LIAISON_BROKER_SERVICE_SUPPORT_H_
