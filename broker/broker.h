// The broker: the store, the registry, identity checks and the gRPC server
// with mutual TLS, assembled from a complete BrokerConfig.
#ifndef LIAISON_BROKER_BROKER_H_
#define LIAISON_BROKER_BROKER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/admin_service.h"
#include "broker/audit_service.h"
#include "broker/basics/clock.h"
#include "broker/exchange_service.h"
#include "broker/identity.h"
#include "broker/identity_service.h"
#include "broker/inbox_waiters.h"
#include "broker/log/tree_head.h"
#include "broker/pseudonym.h"
#include "broker/registry.h"
#include "broker/server_identity.h"
#include "broker/store/store.h"
#include "broker/sweeper.h"
#include "liaison/v1/config.pb.h"
#include "policy/policy_set.h"

namespace liaison {

class Broker {
 public:
  // Opens the store under config.data_dir (creating the folder, mode 0700),
  // applies the registry seed, loads the CA and CRL and the disclosure
  // policy set (refusing to start on any error in it), and starts
  // listening.
  // `config` must have been completed with CompleteBrokerConfig. `clock`
  // must outlive the broker. Returns after the port is bound; `progress`
  // receives one line per startup step worth telling an operator.
  static absl::StatusOr<std::unique_ptr<Broker>> Start(
      const v1::BrokerConfig& config, const Clock* clock,
      const std::function<void(const std::string&)>& progress);

  ~Broker();

  // The bound port (useful when the config asked for port 0).
  int port() const { return port_; }

  // What SIGHUP does, each step logged as an ADMIN entry by the broker.
  //
  // Reloads the CRL; open connections stay open and their next call is
  // checked against the new list, and Receive streams of certificates it
  // revokes end. On error the old CRL stays in force. Returns the number of
  // revoked certificates.
  absl::StatusOr<size_t> ReloadCrl();
  // Reloads the policy folder; decisions already under way finish with the
  // set they started with. On error the set in force stays, and the error
  // lists every problem as file:line. Returns a one-line summary.
  absl::StatusOr<std::string> ReloadPolicy();
  // Re-reads the broker's own certificate and key (tls_cert, tls_key): new
  // handshakes present the new certificate within a second, connections
  // and streams already open keep going. On error the pair in force stays.
  // Returns a one-line summary.
  absl::StatusOr<std::string> ReloadServerCertificate();

  // One line per certificate expiring within the configured window
  // (expiry_warning_days), or one line saying none does.
  std::vector<std::string> ExpiryReport();

  // Stops accepting calls, lets calls in flight finish for up to `grace`,
  // then cancels the rest. Safe to call more than once.
  void Shutdown(absl::Duration grace);

  // Blocks until the server has shut down.
  void Wait();

 private:
  Broker() = default;

  // Re-reads this broker's own policy folder or CRL ("policy", "crl")
  // after another broker on the database announced a reload of it.
  void FollowReload(const std::string& kind);

  // Before the store, which signs with it, so it is destroyed after.
  std::unique_ptr<LogSigner> signer_;
  // Before the store too: the PostgreSQL store's listener wakes streams
  // through it until the store is gone.
  std::unique_ptr<InboxWaiters> waiters_;
  // Before the store, whose listener thread reloads it: destroyed after
  // the store stops that thread. It uses the store only when called.
  std::unique_ptr<Registry> registry_;
  // registry_ once loaded, for the store's listener thread.
  std::atomic<Registry*> registry_ready_{nullptr};
  // Before the store as well, since its listener thread follows other
  // brokers' reloads with them (once following_reloads_ is set) and its
  // commit thread finishes those reloads.
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<policy::PolicyInForce> policy_;
  AdminContext admin_context_;
  std::atomic<bool> following_reloads_{false};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Pseudonymizer> pseudonyms_;
  std::unique_ptr<IdentityService> identity_service_;
  std::unique_ptr<ExchangeService> exchange_service_;
  std::unique_ptr<AuditService> audit_service_;
  std::unique_ptr<ServerIdentity> server_identity_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  // Last: stopped first, before the server and the store it uses.
  std::unique_ptr<Sweeper> sweeper_;
  const Clock* clock_ = nullptr;
  int port_ = 0;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_BROKER_H_
