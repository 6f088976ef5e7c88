// The C++ client library for agency systems, auditors and administrators:
// loads a certificate, its key and the deployment CA, and opens a mutual
// TLS channel to the broker.
#ifndef LIAISON_CLIENTS_CLIENT_H_
#define LIAISON_CLIENTS_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "liaison/v1/common.pb.h"

namespace liaison::client {

struct ConnectionOptions {
  // Broker address, host:port.
  std::string address = "127.0.0.1:7443";
  // This principal's certificate and private key (PEM), as written by
  // `liaison-certs issue`.
  std::string cert_path;
  std::string key_path;
  // The deployment CA certificate that signed the broker's certificate.
  std::string ca_path;
  // Name to check the broker's certificate against; empty means the host
  // part of `address`.
  std::string server_name;
};

// Reads the files and creates a channel. The connection itself is made
// lazily by the first call. INVALID_ARGUMENT or NOT_FOUND for unreadable or
// mismatched files, naming the file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const ConnectionOptions& options);

// Checks this principal's own certificate before a call, so that an expired
// or not-yet-valid certificate, or a key that does not belong to it, is
// reported locally in words rather than as a failed TLS handshake.
absl::Status CheckOwnCertificate(const ConnectionOptions& options,
                                 absl::Time now);

// Adds the professional acting inside the agency to a call's metadata.
void SetProfessional(grpc::ClientContext* context,
                     const v1::Professional& professional);

// The serial of the certificate the broker presented on the connection a
// finished call used, upper-case hex; empty when unknown.
std::string PeerCertificateSerial(const grpc::ClientContext& context);

// The status a call returned, as an absl::Status. UNAVAILABLE gets a hint
// about the usual causes (broker down, handshake refused).
absl::Status FromGrpcStatus(const grpc::Status& status,
                            const std::string& address);

}  // namespace liaison::client

#endif  // LIAISON_CLIENTS_CLIENT_H_
