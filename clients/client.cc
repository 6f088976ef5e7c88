#include "clients/client.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/x509.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "broker/basics/x509.h"

namespace liaison::client {

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const ConnectionOptions& options) {
  for (const auto& [value, flag] : {std::pair{&options.cert_path, "--cert"},
                                    std::pair{&options.key_path, "--key"},
                                    std::pair{&options.ca_path, "--ca"}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no ", flag, " file given"));
    }
  }
  grpc::SslCredentialsOptions tls;
  ASSIGN_OR_RETURN(tls.pem_root_certs, ReadFile(options.ca_path));
  ASSIGN_OR_RETURN(tls.pem_cert_chain, ReadFile(options.cert_path));
  ASSIGN_OR_RETURN(tls.pem_private_key, ReadFile(options.key_path));
  grpc::ChannelArguments args;
  if (!options.server_name.empty()) {
    args.SetSslTargetNameOverride(options.server_name);
  }
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(tls),
                                   args);
}

absl::Status CheckOwnCertificate(const ConnectionOptions& options,
                                 absl::Time now) {
  ASSIGN_OR_RETURN(x509::CertPtr cert,
                   x509::ReadCertificateFile(options.cert_path));
  ASSIGN_OR_RETURN(x509::KeyPtr key,
                   x509::ReadPrivateKeyFile(options.key_path));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    x509::OpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        options.key_path, " is not the private key of ", options.cert_path));
  }
  if (x509::NotAfter(cert.get()) < now) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", options.cert_path, " (serial ",
                     x509::SerialHex(cert.get()), ") expired on ",
                     Rfc3339(x509::NotAfter(cert.get())),
                     "; ask your administrator to renew it"));
  }
  if (x509::NotBefore(cert.get()) > now) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", options.cert_path, " is not valid until ",
                     Rfc3339(x509::NotBefore(cert.get()))));
  }
  return absl::OkStatus();
}

void SetProfessional(grpc::ClientContext* context,
                     const v1::Professional& professional) {
  if (!professional.id().empty()) {
    context->AddMetadata("liaison-professional-id", professional.id());
  }
  if (!professional.role().empty()) {
    context->AddMetadata("liaison-professional-role", professional.role());
  }
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            const std::string& address) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  // Only when the call did not reach a broker: a broker's own UNAVAILABLE
  // (its database failing over, say) says what to do itself.
  const bool transport = message.empty() ||
                         absl::StrContains(message, "failed to connect") ||
                         absl::StrContains(message, "onnection refused") ||
                         absl::StrContains(message, "Socket closed") ||
                         absl::StrContains(message, "andshake") ||
                         absl::StrContains(message, "all backends") ||
                         absl::StrContains(message, "DNS resolution failed");
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && transport) {
    absl::StrAppend(
        &message, "\n  hint: is a broker running at ", address,
        "? If it is, it refused the TLS handshake: check that your "
        "certificate was issued by this deployment's CA, is in its validity "
        "period, and that --ca is the deployment CA.");
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

std::string PeerCertificateSerial(const grpc::ClientContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return "";
  std::vector<grpc::string_ref> pems =
      auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return "";
  absl::StatusOr<x509::CertPtr> cert = x509::ParseCertificatePem(
      absl::string_view(pems[0].data(), pems[0].size()));
  return cert.ok() ? x509::SerialHex(cert->get()) : "";
}

}  // namespace liaison::client
