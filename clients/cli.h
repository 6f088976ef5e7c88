// What every command of the liaison command line shares: the invocation
// it runs with, how it reports errors, and how it makes calls.
#ifndef LIAISON_CLIENTS_CLI_H_
#define LIAISON_CLIENTS_CLI_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/status_macros.h"
#include "clients/client.h"
#include "liaison/v1/common.pb.h"

namespace liaison::cli {

// What a command runs with: the connection, the professional, the
// arguments after the command's name, and the command flags given.
struct Invocation {
  std::string command;
  client::ConnectionOptions connection;
  v1::Professional professional;
  absl::Duration timeout;
  std::vector<std::string> args;
  std::set<std::string> flags_given;
};

struct Command {
  const char* help;
  // Command flags (without "--") this command accepts.
  std::vector<std::string> flags;
  int (*run)(const Invocation&);
};

inline int Fail(const absl::Status& status) {
  std::cerr << "liaison: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << std::endl;
  return 1;
}

inline int Usage(const std::string& command, const std::string& problem) {
  std::cerr << "liaison: " << problem << "; run `liaison help " << command
            << "`" << std::endl;
  return 2;
}

// Sets the call's deadline (unless `deadline` is false, for streams) and
// names the professional acting.
inline void Prepare(grpc::ClientContext* context, const Invocation& in,
                    bool deadline = true) {
  if (deadline) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + in.timeout));
  }
  client::SetProfessional(context, in.professional);
}

inline absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const Invocation& in) {
  RETURN_IF_ERROR(client::CheckOwnCertificate(in.connection, absl::Now()));
  return client::OpenChannel(in.connection);
}

// Makes one unary call through `call` with a prepared context.
template <typename Response>
absl::StatusOr<Response> Unary(
    const Invocation& in,
    const std::function<grpc::Status(grpc::ClientContext*, Response*)>& call) {
  grpc::ClientContext context;
  Prepare(&context, in);
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok())
    return client::FromGrpcStatus(status, in.connection.address);
  return response;
}

// The words an enum's values go by on the command line: its names without
// `prefix`, in lower case ("support_in_place"), comma-separated.
std::string Words(const google::protobuf::EnumDescriptor* type,
                  absl::string_view prefix);
// `word` as a value of the enum, or 0 (its UNSPECIFIED) when it names none.
int EnumValue(const google::protobuf::EnumDescriptor* type,
              absl::string_view prefix, const std::string& word);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_CLI_H_
