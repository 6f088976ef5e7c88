// The broker's own TLS identity: its server certificate and private key.
// They are read from the configured files, checked (the key is the
// certificate's, the deployment CA signed it, it has not expired) and only
// then installed where the TLS layer's certificate watcher reads them:
// DATA_DIR/tls/identity.pem, certificate and key in one file, so that a
// reload swaps both at once. Reload (on SIGHUP) repeats this: handshakes
// from then on present the new certificate, and connections already open,
// with their streams, keep going on the old one.
#ifndef LIAISON_BROKER_SERVER_IDENTITY_H_
#define LIAISON_BROKER_SERVER_IDENTITY_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/basics/clock.h"
#include "broker/basics/x509.h"

namespace liaison {

class ServerIdentity {
 public:
  // What the broker presents now.
  struct Info {
    std::string serial;  // upper-case hex
    std::string uri;     // liaison://broker/<id>, or empty when it has none
    absl::Time not_after;
  };

  // Reads and checks `cert_path` and `key_path` against the CA certificate
  // in `ca_path` and installs them under `data_dir`/tls (created, 0700).
  // `clock` must outlive the object.
  static absl::StatusOr<std::unique_ptr<ServerIdentity>> Create(
      const std::string& cert_path, const std::string& key_path,
      const std::string& ca_path, const std::string& data_dir,
      const Clock* clock);

  // Credentials for the listening port: TLS 1.2 or 1.3 presenting the
  // installed pair (re-read within a second of a change) and requiring a
  // client certificate that verifies against the CA.
  std::shared_ptr<grpc::ServerCredentials> Credentials() const;

  // A pair read from the configured files and checked, not yet in force.
  struct Checked {
    Info info;
    std::string pem;  // certificate, then key
  };
  // Re-reads and checks the configured files; what is in force does not
  // change. The error says what to fix.
  absl::StatusOr<Checked> Read() const;
  // Puts a checked pair in force: handshakes present it within a second.
  absl::Status Install(const Checked& checked);

  Info Current() const;
  // The CA certificate the identity was checked against.
  const X509* ca() const { return ca_.get(); }

 private:
  ServerIdentity(std::string cert_path, std::string key_path,
                 std::string ca_path, std::string installed, x509::CertPtr ca,
                 const Clock* clock)
      : cert_path_(std::move(cert_path)),
        key_path_(std::move(key_path)),
        ca_path_(std::move(ca_path)),
        installed_(std::move(installed)),
        ca_(std::move(ca)),
        clock_(clock) {}
  const std::string cert_path_;
  const std::string key_path_;
  const std::string ca_path_;
  const std::string installed_;
  const x509::CertPtr ca_;
  const Clock* const clock_;
  // Serialises installs.
  absl::Mutex install_mu_;
  mutable absl::Mutex info_mu_;
  Info info_ ABSL_GUARDED_BY(info_mu_);
};

}  // namespace liaison

#endif  // LIAISON_BROKER_SERVER_IDENTITY_H_
