// What every request must be before any handler reads it (untrusted input,
// STYLE.md): enum fields hold values this API defines, and strings have
// bounded sizes, so nothing unbounded reaches a decision, an error message
// or the append-only log. And a request that cannot be parsed at all gets
// INVALID_ARGUMENT, not the empty UNIMPLEMENTED gRPC's callback API sends.
#ifndef LIAISON_BROKER_REQUEST_SHAPE_H_
#define LIAISON_BROKER_REQUEST_SHAPE_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "absl/status/status.h"

namespace liaison {

// Longest id or short text a request may carry (agency, consent and case
// ids, purposes, provisions, professional ids and roles, keys), in bytes.
inline constexpr size_t kMaxShortText = 200;
// Longest free text (a requested action, a detail, a statement, a note, a
// reason, a reviewer's comment), in bytes.
inline constexpr size_t kMaxFreeText = 8000;

// INVALID_ARGUMENT naming every field of `request` that holds an enum value
// the API does not define, or a string over its size, by path and size (the
// value itself is not quoted); OK otherwise. Records (liaison.v1.Record) are
// left to the record rules and the message size limit: they are reduced
// before anything is stored and never logged.
absl::Status CheckRequestShape(const google::protobuf::Message& request);

// Answers a request whose bytes do not parse as the method's request
// message with INVALID_ARGUMENT saying so.
class UnparsableRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_REQUEST_SHAPE_H_
