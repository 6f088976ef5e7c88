#include "broker/broker.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "broker/config.h"
#include "broker/domain_rules.h"
#include "broker/log/message_util.h"
#include "broker/log_entries.h"
#include "broker/request_shape.h"
#include "broker/store/postgres/pg_store.h"
#include "broker/store/sqlite/sqlite_store.h"

namespace liaison {
namespace {

// TLS 1.3 suites and TLS 1.2 ECDHE suites with AEAD ciphers only. gRPC reads
// this variable when it initialises; the broker sets it so that nothing in
// the environment can widen the list.
constexpr char kCipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
    "TLS_CHACHA20_POLY1305_SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-CHACHA20-POLY1305";

absl::Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create data directory ", dir, ": ", ec.message()));
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot restrict data directory ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string PolicySummary(const policy::PolicySet& set) {
  return absl::StrCat(
      "policy set ", set.version(), ": ", set.agreements().size(),
      " agreements, ", set.merged().jurisdictions_size(), " jurisdictions, ",
      set.merged().sectors_size(), " sectors; everything else is denied");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Broker>> Broker::Start(
    const v1::BrokerConfig& config, const Clock* clock,
    const std::function<void(const std::string&)>& progress) {
  std::unique_ptr<Broker> broker(new Broker);
  RETURN_IF_ERROR(MakePrivateDir(config.data_dir()));
  ASSIGN_OR_RETURN(
      broker->server_identity_,
      ServerIdentity::Create(config.tls_cert(), config.tls_key(), config.ca(),
                             config.data_dir(), clock));
  {
    const ServerIdentity::Info server = broker->server_identity_->Current();
    progress(absl::StrCat("server certificate ", config.tls_cert(), ": serial ",
                          server.serial, ", valid until ",
                          Rfc3339(server.not_after)));
  }

  ASSIGN_OR_RETURN(
      LogSigner signer,
      LogSigner::LoadOrCreate(config.data_dir() + "/log-signing.key",
                              config.data_dir() + "/log-signing.pub"));
  broker->signer_ = std::make_unique<LogSigner>(std::move(signer));
  progress(absl::StrCat("disclosure log signing key ",
                        broker->signer_->key_id(), " (public key ",
                        config.data_dir(), "/log-signing.pub)"));
  broker->waiters_ = std::make_unique<InboxWaiters>();
  if (config.store().has_postgres()) {
    PostgresStoreOptions store_options;
    store_options.conninfo = config.store().postgres().conninfo();
    store_options.signer = broker->signer_.get();
    store_options.rules = &BrokerRules();
    store_options.clock = clock;
    // Commits through other brokers on the database wake this broker's
    // streams, and their registry changes reach this broker's registry.
    InboxWaiters* waiters = broker->waiters_.get();
    store_options.on_inbox_grown =
        [waiters](const std::vector<std::string>& agencies) {
          for (const std::string& agency :
               agencies.empty() ? waiters->Connected() : agencies) {
            waiters->Notify(agency);
          }
        };
    Broker* self = broker.get();
    store_options.on_registry_changed = [self] {
      // The registry exists once the store has opened; a change before
      // that is read by its first Load.
      Registry* registry = self->registry_ready_.load();
      if (registry == nullptr) return;
      absl::Status s = registry->Load();
      if (!s.ok()) {
        std::cerr << "liaison-broker: reloading the registry after another "
                     "broker's change failed (retried at the next change or "
                     "re-check): "
                  << s << "\n";
      }
    };
    // Policy and CRL reloads through other brokers: this one re-reads its
    // own files once it serves.
    store_options.on_reload_announced = [self](const std::string& kind) {
      if (self->following_reloads_.load()) self->FollowReload(kind);
    };
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store,
                     PostgresStore::Open(store_options));
    progress(absl::StrCat("store PostgreSQL at schema version ",
                          store->SchemaVersion()));
    broker->store_ = std::move(store);
  } else {
    SqliteStoreOptions store_options;
    store_options.path = config.data_dir() + "/liaison.db";
    store_options.signer = broker->signer_.get();
    store_options.rules = &BrokerRules();
    store_options.clock = clock;
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store,
                     SqliteStore::Open(store_options));
    progress(absl::StrCat("store ", store_options.path, " at schema version ",
                          store->SchemaVersion()));
    broker->store_ = std::move(store);
  }

  broker->registry_ = std::make_unique<Registry>(broker->store_.get());
  RETURN_IF_ERROR(broker->registry_->Load());
  broker->registry_ready_.store(broker->registry_.get());
  if (!config.registry().empty()) {
    v1::RegistrySeed seed;
    RETURN_IF_ERROR(ParseTextProtoFile(config.registry(), &seed));
    absl::StatusOr<Registry::SeedResult> seeded =
        broker->registry_->ApplySeed(seed);
    if (!seeded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.registry(), ": ", seeded.status().message()));
    }
    progress(absl::StrCat(
        "registry seed ", config.registry(), ": ", seeded->agencies_added,
        " agencies added, ", seeded->agencies_kept,
        " already registered and left as they are, ", seeded->auditors_written,
        " auditors, ", seeded->routes_written, " routes"));
  }

  ASSIGN_OR_RETURN(broker->auth_,
                   Authenticator::Create(config.ca(), config.crl(),
                                         broker->registry_.get(), clock));
  if (!config.crl().empty()) progress(absl::StrCat("CRL ", config.crl()));

  broker->policy_ =
      std::make_unique<policy::PolicyInForce>(config.policy_dir());
  absl::StatusOr<std::shared_ptr<const policy::PolicySet>> policy =
      broker->policy_->Reload();
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the policy set in ", config.policy_dir(),
                     " does not check; fix it (liaison-policy check shows "
                     "every error) and start again:\n",
                     policy.status().message()));
  }
  progress(PolicySummary(**policy));
  ASSIGN_OR_RETURN(
      Pseudonymizer pseudonyms,
      Pseudonymizer::LoadOrCreate(config.data_dir() + "/pseudonym.key"));
  broker->pseudonyms_ = std::make_unique<Pseudonymizer>(std::move(pseudonyms));

  ::setenv("GRPC_SSL_CIPHER_SUITES", kCipherSuites, /*overwrite=*/1);
  {
    Store* seen = broker->store_.get();
    broker->auth_->set_certificate_observer(
        [seen, clock](const std::string& serial, const std::string& uri,
                      absl::Time not_after) {
          seen->RememberCertificate(
              SeenCertificate{serial, uri, not_after, clock->Now()},
              [](absl::StatusOr<bool>) {});
        });
  }

  broker->identity_service_ =
      std::make_unique<IdentityService>(broker->auth_.get());
  ExchangeOptions exchange;
  if (config.inbox_ttl_seconds() > 0) {
    exchange.inbox_ttl = absl::Seconds(config.inbox_ttl_seconds());
  }
  if (config.default_lease_seconds() > 0) {
    exchange.default_lease = absl::Seconds(config.default_lease_seconds());
  }
  if (config.acknowledge_within_24h_seconds() > 0) {
    exchange.acknowledge_within_24h =
        absl::Seconds(config.acknowledge_within_24h_seconds());
  }
  if (config.acknowledge_immediate_seconds() > 0) {
    exchange.acknowledge_immediate =
        absl::Seconds(config.acknowledge_immediate_seconds());
  }
  broker->exchange_service_ = std::make_unique<ExchangeService>(
      broker->auth_.get(), broker->registry_.get(), broker->store_.get(),
      broker->policy_.get(), broker->pseudonyms_.get(), broker->waiters_.get(),
      clock, exchange);
  broker->audit_service_ = std::make_unique<AuditService>(
      broker->auth_.get(), broker->registry_.get(), broker->store_.get(),
      broker->pseudonyms_.get(), clock, broker->signer_->public_key());
  AdminContext& admin = broker->admin_context_;
  admin.auth = broker->auth_.get();
  admin.registry = broker->registry_.get();
  admin.policy = broker->policy_.get();
  admin.store = broker->store_.get();
  admin.clock = clock;
  admin.waiters = broker->waiters_.get();
  admin.server = broker->server_identity_.get();
  admin.started_at = clock->Now();
  if (config.expiry_warning_days() > 0) {
    admin.expiring_within = absl::Hours(24) * config.expiry_warning_days();
  }
  broker->admin_service_ = std::make_unique<AdminService>(admin);
  broker->clock_ = clock;

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      config.listen(), broker->server_identity_->Credentials(), &broker->port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config.max_message_bytes()));
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<UnparsableRequestInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(broker->identity_service_.get());
  builder.RegisterService(broker->exchange_service_.get());
  builder.RegisterService(broker->audit_service_.get());
  builder.RegisterService(broker->admin_service_.get());
  broker->server_ = builder.BuildAndStart();
  if (!broker->server_ || broker->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen(),
                     ": the address is in use or not local to this machine"));
  }
  broker->server_->GetHealthCheckService()->SetServingStatus(true);
  broker->following_reloads_.store(true);
  broker->sweeper_ = std::make_unique<Sweeper>(
      broker->store_.get(), broker->waiters_.get(), clock, exchange.inbox_ttl,
      broker->registry_.get(), broker->policy_.get());
  broker->sweeper_->Start(absl::Seconds(config.sweep_interval_seconds() > 0
                                            ? config.sweep_interval_seconds()
                                            : 30));
  return broker;
}

Broker::~Broker() { Shutdown(absl::ZeroDuration()); }

namespace {

// The actor of what the broker does on SIGHUP.
constexpr char kSignalActor[] = "liaison://broker/signal/SIGHUP";
// The actor of a reload following one through another broker.
constexpr char kFollowActor[] = "liaison://broker/follow/reload";

}  // namespace

absl::StatusOr<size_t> Broker::ReloadCrl() {
  absl::Notification done;
  absl::StatusOr<size_t> result;
  ReloadCrlLogged(admin_context_, kSignalActor, v1::Professional(),
                  ReloadCause::kAsked, [&](absl::StatusOr<size_t> revoked) {
                    result = std::move(revoked);
                    done.Notify();
                  });
  done.WaitForNotification();
  return result;
}

void Broker::FollowReload(const std::string& kind) {
  // Runs on the store's listener thread: start the reload, never wait.
  if (kind == "policy") {
    policy::PolicyInForce* policy = policy_.get();
    const std::string before = policy->Get()->version();
    ReloadPolicyLogged(
        policy, store_.get(), clock_, kFollowActor, v1::Professional(),
        ReloadCause::kFollowing,
        [before, policy](absl::StatusOr<std::string> version) {
          if (!version.ok()) {
            std::cerr << "liaison-broker: another broker reloaded its "
                         "policy, but this one's does not check and policy "
                      << before
                      << " stays in force here: " << version.status().message()
                      << "\n";
          } else if (*version != before) {
            std::cerr << "liaison-broker: policy reloaded after another "
                         "broker's reload: "
                      << PolicySummary(*policy->Get()) << "\n";
          }
        });
  } else if (kind == "crl") {
    const absl::Time before = auth_->CrlThisUpdate();
    Authenticator* auth = auth_.get();
    ReloadCrlLogged(admin_context_, kFollowActor, v1::Professional(),
                    ReloadCause::kFollowing,
                    [before, auth](absl::StatusOr<size_t> revoked) {
                      if (!revoked.ok()) {
                        std::cerr << "liaison-broker: another broker reloaded "
                                     "its CRL, but this one's was refused and "
                                     "the CRL in force stays here: "
                                  << revoked.status().message() << "\n";
                      } else if (auth->CrlThisUpdate() != before) {
                        std::cerr << "liaison-broker: CRL reloaded after "
                                     "another broker's reload: "
                                  << *revoked << " revoked\n";
                      }
                    });
  }
}

absl::StatusOr<std::string> Broker::ReloadServerCertificate() {
  const ServerIdentity::Info before = server_identity_->Current();
  absl::StatusOr<ServerIdentity::Checked> checked = server_identity_->Read();
  absl::StatusOr<ServerIdentity::Info> after =
      checked.ok() ? absl::StatusOr<ServerIdentity::Info>(checked->info)
                   : absl::StatusOr<ServerIdentity::Info>(checked.status());
  v1::LogEntry e =
      AdminEntry(clock_->Now(), kSignalActor, nullptr, policy_->Get().get(),
                 "reload_server_certificate");
  e.set_allowed(after.ok());
  std::string summary;
  if (after.ok()) {
    summary = after->serial == before.serial
                  ? absl::StrCat("server certificate unchanged: serial ",
                                 after->serial, ", valid until ",
                                 Rfc3339(after->not_after))
                  : absl::StrCat("server certificate serial ", before.serial,
                                 " replaced by ", after->serial,
                                 ", valid until ", Rfc3339(after->not_after),
                                 "; open connections keep theirs");
    e.set_reason(summary);
  } else {
    e.set_reason(absl::StrCat("server certificate reload refused, serial ",
                              before.serial,
                              " stays in force: ", after.status().message()));
  }
  absl::Notification done;
  absl::Status logged;
  store_->AppendLog(std::move(e), [&](absl::StatusOr<uint64_t> sequence) {
    logged = sequence.status();
    done.Notify();
  });
  done.WaitForNotification();
  if (!after.ok()) return after.status();
  // Only a change the log holds is put in force.
  if (!logged.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the disclosure log could not record the reload, so serial ",
        before.serial, " stays in force: ", logged.message()));
  }
  RETURN_IF_ERROR(server_identity_->Install(*checked));
  return summary;
}

std::vector<std::string> Broker::ExpiryReport() {
  absl::Notification done;
  absl::StatusOr<std::vector<v1::BrokerStatus::ExpiringCertificate>> found;
  ExpiringCertificates(
      admin_context_, admin_context_.expiring_within,
      [&](absl::StatusOr<std::vector<v1::BrokerStatus::ExpiringCertificate>>
              r) {
        found = std::move(r);
        done.Notify();
      });
  done.WaitForNotification();
  const int64_t days = absl::ToInt64Hours(admin_context_.expiring_within) / 24;
  if (!found.ok()) {
    return {absl::StrCat("certificate expiry check failed: ",
                         found.status().message())};
  }
  if (found->empty()) {
    return {absl::StrCat("no certificate known to the broker expires within ",
                         days, " days")};
  }
  std::vector<std::string> lines;
  for (const auto& c : *found) {
    const absl::Time at = absl::FromUnixSeconds(c.not_after().seconds());
    lines.push_back(absl::StrCat(
        "certificate expiring: ", c.subject(), " serial ", c.serial(), " on ",
        Rfc3339(at), " (", absl::ToInt64Hours(at - clock_->Now()) / 24,
        " days); renew it with `liaison-certs renew`"));
  }
  return lines;
}

absl::StatusOr<std::string> Broker::ReloadPolicy() {
  absl::Notification done;
  absl::StatusOr<std::string> result;
  ReloadPolicyLogged(policy_.get(), store_.get(), clock_, kSignalActor,
                     v1::Professional(), ReloadCause::kAsked,
                     [&](absl::StatusOr<std::string> version) {
                       result = std::move(version);
                       done.Notify();
                     });
  done.WaitForNotification();
  if (!result.ok()) return result.status();
  return PolicySummary(*policy_->Get());
}

void Broker::Shutdown(absl::Duration grace) {
  if (!server_) return;
  if (grpc::HealthCheckServiceInterface* health =
          server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void Broker::Wait() {
  if (server_) server_->Wait();
}

}  // namespace liaison
