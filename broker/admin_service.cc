#include "broker/admin_service.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/x509.h"
#include "broker/log/message_util.h"
#include "broker/log_entries.h"

namespace liaison {

namespace {

// Once a reload asked of this broker is in force, tells the other brokers
// on the store before answering. `what` names what is in force, for the
// error when they could not be told.
template <typename T>
void AnnounceThenAnswer(Store* store, ReloadCause cause,
                        const std::string& kind, const std::string& what,
                        T result, std::function<void(absl::StatusOr<T>)> done) {
  if (cause != ReloadCause::kAsked) {
    done(std::move(result));
    return;
  }
  store->AnnounceReload(
      kind, [what, result = std::move(result),
             done = std::move(done)](absl::Status told) mutable {
        if (!told.ok()) {
          done(absl::UnavailableError(absl::StrCat(
              what,
              " is in force on this broker, but the other brokers on "
              "the database could not be told (",
              told.message(), "); ask for the reload again")));
          return;
        }
        done(std::move(result));
      });
}

}  // namespace

void ReloadPolicyLogged(policy::PolicyInForce* policy, Store* store,
                        const Clock* clock, const std::string& actor,
                        const v1::Professional& professional, ReloadCause cause,
                        std::function<void(absl::StatusOr<std::string>)> done) {
  absl::StatusOr<std::shared_ptr<const policy::PolicySet>> loaded =
      policy->Load();
  const std::shared_ptr<const policy::PolicySet> current = policy->Get();
  const std::string in_force = current ? current->version() : "";
  if (cause == ReloadCause::kFollowing && loaded.ok() &&
      (*loaded)->version() == in_force) {
    done(in_force);  // already in force here: nothing to log
    return;
  }
  v1::LogEntry e = AdminEntry(clock->Now(), actor, &professional, current.get(),
                              "reload_policy");
  e.set_allowed(loaded.ok());
  if (loaded.ok()) {
    e.set_policy_version((*loaded)->version());
    e.set_reason(absl::StrCat("policy reloaded from ", policy->dir(), ": ",
                              in_force, " replaced by ", (*loaded)->version()));
  } else {
    const size_t problems = std::vector<std::string>(
                                absl::StrSplit(loaded.status().message(), '\n'))
                                .size();
    e.set_policy_version(in_force);
    e.set_reason(absl::StrCat("policy reload from ", policy->dir(),
                              " refused: ", problems, " problems; policy ",
                              in_force, " stays in force"));
  }
  store->AppendLog(
      std::move(e), [policy, store, cause, loaded, done = std::move(done)](
                        absl::StatusOr<uint64_t> sequence) {
        if (!sequence.ok()) {
          done(sequence.status());
          return;
        }
        if (!loaded.ok()) {
          done(loaded.status());
          return;
        }
        policy->Install(*loaded);
        const std::string version = (*loaded)->version();
        AnnounceThenAnswer<std::string>(store, cause, "policy",
                                        absl::StrCat("policy ", version),
                                        version, std::move(done));
      });
}

grpc::ServerUnaryReactor* AdminService::ReloadPolicy(
    grpc::CallbackServerContext* ctx, const v1::ReloadRequest* /*request*/,
    v1::ReloadResponse* response) {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ReloadPolicyLogged(
      c_.policy, c_.store, c_.clock, entry->actor(), entry->professional(),
      ReloadCause::kAsked,
      [reactor, response, policy = c_.policy](absl::StatusOr<std::string> v) {
        if (v.ok()) {
          response->set_version(*v);
          const std::shared_ptr<const policy::PolicySet> set = policy->Get();
          response->set_detail(absl::StrCat(
              "policy ", *v, " in force: ", set->agreements().size(),
              " agreements, ", set->merged().jurisdictions_size(),
              " jurisdictions"));
        }
        reactor->Finish(ToGrpcStatus(v.status()));
      });
  return reactor;
}

void ReloadCrlLogged(const AdminContext& c, const std::string& actor,
                     const v1::Professional& professional, ReloadCause cause,
                     std::function<void(absl::StatusOr<size_t>)> done) {
  absl::StatusOr<std::shared_ptr<const x509::RevocationList>> read =
      c.auth->ReadCrl();
  if (!read.ok() &&
      read.status().code() == absl::StatusCode::kFailedPrecondition) {
    done(read.status());  // nothing configured: nothing attempted
    return;
  }
  if (cause == ReloadCause::kFollowing && read.ok() &&
      c.auth->AddsNothingToCrlInForce(**read)) {
    done((*read)->revoked.size());  // nothing newer here: nothing to log
    return;
  }
  v1::LogEntry e = AdminEntry(c.clock->Now(), actor, &professional,
                              c.policy->Get().get(), "reload_crl");
  e.set_allowed(read.ok());
  if (read.ok()) {
    e.set_reason(absl::StrCat("CRL reloaded from ", c.auth->crl_path(), ": ",
                              (*read)->revoked.size(),
                              " revoked certificates"));
  } else {
    e.set_reason(absl::StrCat(
        "CRL reload from ", c.auth->crl_path(),
        " refused, the CRL in force stays: ", read.status().message()));
  }
  AdminContext context = c;
  c.store->AppendLog(
      std::move(e), [context, cause, read, done = std::move(done)](
                        absl::StatusOr<uint64_t> sequence) {
        if (!sequence.ok()) {
          done(sequence.status());
          return;
        }
        if (!read.ok()) {
          done(read.status());
          return;
        }
        if (!context.auth->InstallCrl(*read)) {
          done(absl::FailedPreconditionError(
              "the CRL file is older than the CRL in force (another reload "
              "installed a newer one meanwhile); the newer one stays"));
          return;
        }
        EndRefusedStreams(context);
        const size_t revoked = (*read)->revoked.size();
        AnnounceThenAnswer<size_t>(
            context.store, cause, "crl",
            absl::StrCat("the CRL with ", revoked, " revoked certificates"),
            revoked, std::move(done));
      });
}

int EndRefusedStreams(const AdminContext& c) {
  const Authenticator* auth = c.auth;
  return c.waiters->CloseRefused(
      [auth](const std::string& agency_id, const std::string& serial) {
        return auth->Recheck(agency_id, serial);
      });
}

void ExpiringCertificates(
    const AdminContext& c, absl::Duration within,
    std::function<void(
        absl::StatusOr<std::vector<v1::BrokerStatus::ExpiringCertificate>>)>
        done) {
  using Expiring = v1::BrokerStatus::ExpiringCertificate;
  const absl::Time now = c.clock->Now();
  const absl::Time horizon = now + within;
  std::vector<Expiring> own;
  auto add = [&own](const std::string& serial, const std::string& subject,
                    absl::Time not_after) {
    Expiring& e = own.emplace_back();
    e.set_serial(serial);
    e.set_subject(subject);
    SetTime(e.mutable_not_after(), not_after);
  };
  if (const X509* ca = c.server->ca(); x509::NotAfter(ca) < horizon) {
    add(x509::SerialHex(ca),
        absl::StrCat("deployment CA (", x509::SubjectLine(ca), ")"),
        x509::NotAfter(ca));
  }
  const ServerIdentity::Info server = c.server->Current();
  if (server.not_after < horizon) {
    add(server.serial,
        server.uri.empty() ? "the broker's server certificate" : server.uri,
        server.not_after);
  }
  const Authenticator* auth = c.auth;
  c.store->SeenCertificatesValidAt(
      now, [own = std::move(own), horizon, auth, done = std::move(done)](
               absl::StatusOr<std::vector<SeenCertificate>> seen) mutable {
        if (!seen.ok()) {
          done(seen.status());
          return;
        }
        // Per principal, the newest certificate not revoked: an old one
        // during a renewal's overlap is not a worry.
        std::map<std::string, const SeenCertificate*> newest;
        for (const SeenCertificate& s : *seen) {
          if (auth->IsRevoked(s.serial)) continue;
          const SeenCertificate*& n = newest[s.subject];
          if (n == nullptr || n->not_after < s.not_after) n = &s;
        }
        std::vector<Expiring> out = std::move(own);
        for (const auto& [subject, s] : newest) {
          if (s->not_after >= horizon) continue;
          Expiring& e = out.emplace_back();
          e.set_serial(s->serial);
          e.set_subject(subject);
          SetTime(e.mutable_not_after(), s->not_after);
        }
        std::stable_sort(
            out.begin(), out.end(), [](const Expiring& a, const Expiring& b) {
              return a.not_after().seconds() < b.not_after().seconds();
            });
        done(std::move(out));
      });
}

absl::Status AdminService::KnownToPolicy(const v1::Agency& agency) const {
  const std::shared_ptr<const policy::PolicySet> set = c_.policy->Get();
  if (set == nullptr) return absl::OkStatus();
  std::vector<std::string> sectors;
  for (const auto& sector : set->merged().sectors()) {
    sectors.push_back(sector.name());
  }
  if (std::find(sectors.begin(), sectors.end(), agency.sector()) ==
      sectors.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sector \"", agency.sector(), "\" is not in the policy set in force (",
        set->version(), ": ", absl::StrJoin(sectors, ", "),
        "); publish a policy set that defines it, then register the agency"));
  }
  if (agency.jurisdiction().empty()) return absl::OkStatus();
  std::vector<std::string> jurisdictions;
  for (const auto& j : set->merged().jurisdictions()) {
    jurisdictions.push_back(j.id());
  }
  if (std::find(jurisdictions.begin(), jurisdictions.end(),
                agency.jurisdiction()) == jurisdictions.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "jurisdiction \"", agency.jurisdiction(),
        "\" is not in the policy set in force (", set->version(), ": ",
        absl::StrJoin(jurisdictions, ", "),
        "); use one of those or publish a policy set that defines it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::LogEntry> AdminService::Begin(
    grpc::CallbackServerContext* ctx) const {
  ASSIGN_OR_RETURN(
      v1::Principal admin,
      c_.auth->Authorize(*ctx->auth_context(), kAllowed, kServiceName));
  const v1::Professional professional = ProfessionalOf(ctx);
  return AdminEntry(c_.clock->Now(), admin.uri(), &professional,
                    c_.policy->Get().get(), "");
}

std::function<void(absl::StatusOr<v1::Agency>)> AdminService::FinishAgency(
    grpc::ServerUnaryReactor* reactor, v1::Agency* response) const {
  return [c = c_, reactor, response](absl::StatusOr<v1::Agency> agency) {
    if (agency.ok()) {
      *response = *std::move(agency);
      EndRefusedStreams(c);
    }
    reactor->Finish(ToGrpcStatus(agency.status()));
  };
}

grpc::ServerUnaryReactor* AdminService::RegisterAgency(
    grpc::CallbackServerContext* ctx, const v1::RegisterAgencyRequest* request,
    v1::Agency* response) {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  if (!request->has_agency()) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "agency is missing: give the agency to add"));
  }
  // The request's own form first, then what the policy in force knows.
  absl::Status valid = Registry::ValidateAgency(request->agency());
  if (valid.ok()) valid = KnownToPolicy(request->agency());
  if (!valid.ok()) return FinishUnary(ctx, valid);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  c_.registry->Register(request->agency(), *std::move(entry),
                        FinishAgency(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ChangeStatus(
    grpc::CallbackServerContext* ctx, const v1::SetAgencyStatusRequest& request,
    v1::AgencyStatus status, v1::Agency* response) const {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  c_.registry->SetStatus(
      request.agency_id(), status,
      std::string(absl::StripAsciiWhitespace(request.reason())),
      *std::move(entry), FinishAgency(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::SuspendAgency(
    grpc::CallbackServerContext* ctx, const v1::SetAgencyStatusRequest* request,
    v1::Agency* response) {
  return ChangeStatus(ctx, *request, v1::AGENCY_STATUS_SUSPENDED, response);
}

grpc::ServerUnaryReactor* AdminService::ReactivateAgency(
    grpc::CallbackServerContext* ctx, const v1::SetAgencyStatusRequest* request,
    v1::Agency* response) {
  return ChangeStatus(ctx, *request, v1::AGENCY_STATUS_ACTIVE, response);
}

grpc::ServerUnaryReactor* AdminService::ListAgencies(
    grpc::CallbackServerContext* ctx,
    const v1::ListAgenciesRequest* /*request*/,
    v1::ListAgenciesResponse* response) {
  absl::Status allowed =
      c_.auth->Authorize(*ctx->auth_context(), kAllowed, kServiceName).status();
  if (!allowed.ok()) return FinishUnary(ctx, allowed);
  std::vector<v1::Agency> agencies = c_.registry->Agencies();
  std::sort(
      agencies.begin(), agencies.end(),
      [](const v1::Agency& a, const v1::Agency& b) { return a.id() < b.id(); });
  for (v1::Agency& a : agencies) *response->add_agencies() = std::move(a);
  return FinishUnary(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::ChangeBinding(
    grpc::CallbackServerContext* ctx, const v1::BindCertificateRequest& request,
    bool bind, v1::Agency* response) const {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  absl::StatusOr<std::string> serial = x509::NormalizeSerial(request.serial());
  if (!serial.ok()) return FinishUnary(ctx, serial.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  c_.registry->Bind(request.agency_id(), *serial, bind, *std::move(entry),
                    FinishAgency(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::BindCertificate(
    grpc::CallbackServerContext* ctx, const v1::BindCertificateRequest* request,
    v1::Agency* response) {
  return ChangeBinding(ctx, *request, /*bind=*/true, response);
}

grpc::ServerUnaryReactor* AdminService::UnbindCertificate(
    grpc::CallbackServerContext* ctx, const v1::BindCertificateRequest* request,
    v1::Agency* response) {
  return ChangeBinding(ctx, *request, /*bind=*/false, response);
}

grpc::ServerUnaryReactor* AdminService::SetRoute(
    grpc::CallbackServerContext* ctx, const v1::Route* request,
    v1::Route* response) {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  c_.registry->SetRoute(*request, *std::move(entry),
                        [reactor, response](absl::StatusOr<v1::Route> route) {
                          if (route.ok()) *response = *std::move(route);
                          reactor->Finish(ToGrpcStatus(route.status()));
                        });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::RemoveRoute(
    grpc::CallbackServerContext* ctx, const v1::Route* request,
    v1::RemoveRouteResponse* /*response*/) {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  c_.registry->RemoveRoute(*request, *std::move(entry),
                           [reactor](absl::StatusOr<v1::Route> removed) {
                             reactor->Finish(ToGrpcStatus(removed.status()));
                           });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ListRoutes(
    grpc::CallbackServerContext* ctx, const v1::ListRoutesRequest* /*request*/,
    v1::ListRoutesResponse* response) {
  absl::Status allowed =
      c_.auth->Authorize(*ctx->auth_context(), kAllowed, kServiceName).status();
  if (!allowed.ok()) return FinishUnary(ctx, allowed);
  for (v1::Route& r : c_.registry->Routes()) {
    *response->add_routes() = std::move(r);
  }
  return FinishUnary(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::ReloadCrl(
    grpc::CallbackServerContext* ctx, const v1::ReloadRequest* /*request*/,
    v1::ReloadResponse* response) {
  absl::StatusOr<v1::LogEntry> entry = Begin(ctx);
  if (!entry.ok()) return FinishUnary(ctx, entry.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ReloadCrlLogged(c_, entry->actor(), entry->professional(),
                  ReloadCause::kAsked,
                  [reactor, response](absl::StatusOr<size_t> revoked) {
                    if (revoked.ok()) {
                      response->set_detail(absl::StrCat(
                          "CRL in force: ", *revoked, " revoked certificates"));
                    }
                    reactor->Finish(ToGrpcStatus(revoked.status()));
                  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetStatus(
    grpc::CallbackServerContext* ctx, const v1::GetStatusRequest* request,
    v1::BrokerStatus* response) {
  absl::Status allowed =
      c_.auth->Authorize(*ctx->auth_context(), kAllowed, kServiceName).status();
  if (!allowed.ok()) return FinishUnary(ctx, allowed);
  if (request->expiring_within_days() > 36500) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "expiring_within_days may be at most 36500"));
  }
  const absl::Duration within =
      request->expiring_within_days() == 0
          ? c_.expiring_within
          : absl::Hours(24) * request->expiring_within_days();
  response->set_version(LIAISON_VERSION);
  if (const std::shared_ptr<const policy::PolicySet> set = c_.policy->Get()) {
    response->set_policy_version(set->version());
  }
  SetTime(response->mutable_started_at(), c_.started_at);
  for (const std::string& id : c_.waiters->Connected()) {
    response->add_connected_agencies(id);
  }
  response->set_expiring_within_days(
      static_cast<uint32_t>(absl::ToInt64Hours(within) / 24));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  AdminContext c = c_;
  c_.store->LatestTreeHead([c, within, reactor,
                            response](absl::StatusOr<v1::TreeHead> head) {
    // No head yet means an empty log.
    if (head.ok()) response->set_log_size(head->tree_size());
    ExpiringCertificates(
        c, within,
        [reactor, response](
            absl::StatusOr<std::vector<v1::BrokerStatus::ExpiringCertificate>>
                expiring) {
          if (expiring.ok()) {
            for (auto& e : *expiring) {
              *response->add_expiring_certificates() = std::move(e);
            }
          }
          reactor->Finish(ToGrpcStatus(expiring.status()));
        });
  });
  return reactor;
}

}  // namespace liaison
