#include "broker/server_identity.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "broker/basics/files.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"

namespace liaison {
namespace {

// How often the TLS layer looks at the installed file, in seconds.
constexpr unsigned int kRefreshSeconds = 1;

}  // namespace

absl::StatusOr<std::unique_ptr<ServerIdentity>> ServerIdentity::Create(
    const std::string& cert_path, const std::string& key_path,
    const std::string& ca_path, const std::string& data_dir,
    const Clock* clock) {
  ASSIGN_OR_RETURN(x509::CertPtr ca, x509::ReadCertificateFile(ca_path));
  const std::string dir = data_dir + "/tls";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir, " for the broker's certificate: ",
                     ec ? ec.message() : std::strerror(errno)));
  }
  std::unique_ptr<ServerIdentity> identity(
      new ServerIdentity(cert_path, key_path, ca_path, dir + "/identity.pem",
                         std::move(ca), clock));
  ASSIGN_OR_RETURN(Checked checked, identity->Read());
  RETURN_IF_ERROR(identity->Install(checked));
  return identity;
}

absl::StatusOr<ServerIdentity::Checked> ServerIdentity::Read() const {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_path_));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path_));
  ASSIGN_OR_RETURN(x509::CertPtr cert, x509::ParseCertificatePem(cert_pem));
  // The very bytes that will be installed are the ones checked.
  ASSIGN_OR_RETURN(x509::KeyPtr key,
                   x509::ParsePrivateKeyPem(key_pem, key_path_));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    x509::OpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(key_path_, " is not the private key of ", cert_path_));
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca_.get());
  if (ca_key == nullptr || X509_verify(cert.get(), ca_key) != 1) {
    x509::OpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        cert_path_, " was not issued by the deployment CA ", ca_path_,
        "; agencies would refuse it. Issue one with `liaison-certs issue "
        "server`"));
  }
  Checked checked;
  checked.info.serial = x509::SerialHex(cert.get());
  checked.info.not_after = x509::NotAfter(cert.get());
  for (const std::string& uri : x509::UriSans(cert.get())) {
    checked.info.uri = uri;
  }
  if (checked.info.not_after < clock_->Now()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the broker's certificate ", cert_path_, " expired on ",
                     Rfc3339(checked.info.not_after),
                     "; issue a new one with `liaison-certs issue server`"));
  }
  if (!cert_pem.empty() && cert_pem.back() != '\n') cert_pem += '\n';
  checked.pem = cert_pem + key_pem;
  return checked;
}

absl::Status ServerIdentity::Install(const Checked& checked) {
  absl::MutexLock lock(&install_mu_);
  RETURN_IF_ERROR(WriteFileAtomic(installed_, checked.pem, 0600));
  absl::MutexLock info_lock(&info_mu_);
  info_ = checked.info;
  return absl::OkStatus();
}

ServerIdentity::Info ServerIdentity::Current() const {
  absl::MutexLock lock(&info_mu_);
  return info_;
}

std::shared_ptr<grpc::ServerCredentials> ServerIdentity::Credentials() const {
  // The installed file holds both blocks; the key reader skips the
  // certificate and the certificate reader skips the key.
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          installed_, installed_, ca_path_, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace liaison
