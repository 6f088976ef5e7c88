// The Exchange service's consent registry calls, and the consent facts
// every decision on a consent basis reads.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/time_format.h"
#include "broker/exchange_service.h"
#include "broker/exchange_support.h"
#include "broker/log/message_util.h"
#include "broker/log_entries.h"

namespace liaison {

using exchange::AddConsentFacts;
using exchange::AddOverrideAlert;
using exchange::AnswerThenNotify;
using exchange::FinishDenied;
using exchange::QueryFor;
using exchange::ViewLevel;

void ExchangeService::WithConsentFacts(
    const v1::LegalBasis& basis, const std::string& subject_pseudonym,
    grpc::ServerUnaryReactor* reactor,
    std::function<void(const ConsentFacts&)> then) const {
  if (!basis.has_consent_id()) {
    then(ConsentFacts());
    return;
  }
  store_->LoadConsentFacts(
      basis.consent_id(), subject_pseudonym,
      [reactor, then = std::move(then)](absl::StatusOr<ConsentFacts> facts) {
        if (!facts.ok()) {
          reactor->Finish(ToGrpcStatus(facts.status()));
          return;
        }
        then(*facts);
      });
}

v1::Case ExchangeService::CaseAsSeen(v1::Case kase) const {
  const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
  Envelope(*policy, "case", ViewLevel(*policy, "case"), &kase, clock_->Now());
  return kase;
}

v1::Consent ExchangeService::ConsentAsSeenBy(const v1::Principal& caller,
                                             const v1::Consent& consent) const {
  v1::Consent out = consent;
  if (consent.recorded_by_agency_id() != caller.id()) {
    const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
    Envelope(*policy, "consent", ViewLevel(*policy, "consent"), &out,
             clock_->Now());
  }
  return out;
}

bool ExchangeService::MaySee(const v1::Principal& caller,
                             const v1::Consent& consent) const {
  if (consent.recorded_by_agency_id() == caller.id()) return true;
  const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
  for (const auto* parties : {&consent.disclosing(), &consent.recipients()}) {
    for (const v1::Party& p : *parties) {
      if (policy::PartyCovers(*policy, p, caller.id(), caller.sector())) {
        return true;
      }
    }
  }
  return false;
}

grpc::ServerUnaryReactor* ExchangeService::RecordConsent(
    grpc::CallbackServerContext* ctx, const v1::RecordConsentRequest* request,
    v1::Consent* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->idempotency_key().size() > 128) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError("idempotency_key may be at most 128 "
                                        "characters"));
  }
  const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
  const v1::Consent& given = request->consent();
  if (absl::Status s = ValidateConsent(given, *policy, *registry_); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  const absl::Time now = clock_->Now();
  if (given.grantor() == v1::GRANTOR_GUARDIAN) {
    const v1::Jurisdiction* j =
        policy->FindJurisdiction(caller->jurisdiction());
    if (j == nullptr) {
      return FinishUnary(
          ctx, absl::FailedPreconditionError(absl::StrCat(
                   "your agency's jurisdiction \"", caller->jurisdiction(),
                   "\" is not in the policy set, so the age "
                   "of majority a guardian's consent lapses "
                   "at is unknown; nothing was recorded")));
    }
    const std::optional<absl::CivilDay> majority =
        policy::MajorityDay(given.subject(), *j);
    if (majority.has_value() &&
        absl::ToCivilDay(now, absl::UTCTimeZone()) >= *majority) {
      return FinishUnary(
          ctx,
          absl::FailedPreconditionError(absl::StrCat(
              "the subject reached the age of majority (", j->age_of_majority(),
              " in \"", j->id(), "\") on ", absl::FormatCivilTime(*majority),
              ": a guardian can no longer consent for them; record the "
              "subject's own consent; nothing was recorded")));
    }
  }

  NewConsent commit;
  commit.agency_id = caller->id();
  commit.idempotency_key = request->idempotency_key();
  commit.request_digest = Sha256Hex(DeterministicBytes(given));
  commit.consent = given;
  v1::Consent& c = commit.consent;
  c.set_consent_id(NewId("con-"));
  c.set_recorded_by_agency_id(caller->id());
  c.clear_withdrawn_at();
  c.clear_withdrawal_reason();
  if (c.refused()) c.clear_max_level();
  commit.subject_pseudonym = pseudonyms_->Pseudonym(c.subject().identifier());

  v1::LogEntry& e = commit.entry;
  SetTime(e.mutable_time(), now);
  e.set_kind(c.refused() ? v1::ENTRY_KIND_CONSENT_REFUSED
                         : v1::ENTRY_KIND_CONSENT_RECORDED);
  e.set_actor(caller->uri());
  *e.mutable_professional() = ProfessionalOf(ctx);
  e.set_subject_pseudonym(commit.subject_pseudonym);
  e.set_message_id(c.consent_id());
  e.set_consent_id(c.consent_id());
  e.set_basis(v1::BASIS_KIND_CONSENT);
  e.set_level(c.max_level());
  e.set_policy_version(policy->version());
  e.set_allowed(true);
  auto parties = [](const auto& list) {
    return absl::StrJoin(list, ", ", [](std::string* out, const v1::Party& p) {
      out->append(PartyName(p));
    });
  };
  const std::string grantor = c.grantor() == v1::GRANTOR_SUBJECT ? "the subject"
                              : c.grantor() == v1::GRANTOR_GUARDIAN
                                  ? "a guardian"
                                  : "a legal representative";
  e.set_reason(absl::StrCat(
      c.refused() ? "consent refused by " : "consent given by ", grantor,
      "; disclosing: ", parties(c.disclosing()),
      "; recipients: ", parties(c.recipients()),
      "; purposes: ", absl::StrJoin(c.purposes(), ", "),
      c.refused() ? ""
                  : absl::StrCat("; up to ", v1::Level_Name(c.max_level())),
      c.has_valid_until()
          ? absl::StrCat("; until ", Rfc3339(TimeOf(c.valid_until())))
          : ""));

  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->RecordConsent(std::move(commit),
                        [reactor, response](absl::StatusOr<v1::Consent> got) {
                          if (got.ok()) *response = *std::move(got);
                          reactor->Finish(ToGrpcStatus(got.status()));
                        });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetConsent(
    grpc::CallbackServerContext* ctx, const v1::GetConsentRequest* request,
    v1::Consent* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->consent_id().empty()) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError("consent_id is missing"));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const v1::Professional professional = ProfessionalOf(ctx);
  store_->GetConsent(
      request->consent_id(),
      [this, reactor, response, caller = *caller, id = request->consent_id(),
       access = AccessEntry(clock_->Now(), caller->uri(), &professional,
                            "GetConsent")](
          absl::StatusOr<StoredConsent> stored) mutable {
        if (stored.ok() && !MaySee(caller, stored->consent)) {
          // Indistinguishable from an id that does not exist.
          stored = absl::NotFoundError(
              absl::StrCat("no consent \"", id, "\" that your agency may see"));
        }
        if (!stored.ok()) return reactor->Finish(ToGrpcStatus(stored.status()));
        *response = ConsentAsSeenBy(caller, stored->consent);
        access.set_consent_id(id);
        access.set_subject_pseudonym(stored->subject_pseudonym);
        if (stored->consent.recorded_by_agency_id() != caller.id()) {
          access.set_counterpart(stored->consent.recorded_by_agency_id());
        }
        FinishAfterAccess(store_, reactor, std::move(access));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::WithdrawConsent(
    grpc::CallbackServerContext* ctx, const v1::WithdrawConsentRequest* request,
    v1::Consent* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->consent_id().empty() || request->reason().empty() ||
      request->reason().size() > 2000) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "a withdrawal needs consent_id and a reason "
                                "of 1 to 2000 characters, e.g. \"withdrawn by "
                                "the person in writing\""));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetConsent(
      request->consent_id(),
      [this, reactor, request, response, caller = *caller,
       professional =
           ProfessionalOf(ctx)](absl::StatusOr<StoredConsent> stored) {
        if (stored.ok() && !MaySee(caller, stored->consent)) {
          stored = absl::NotFoundError(
              absl::StrCat("no consent \"", request->consent_id(),
                           "\" that your agency may see"));
        }
        if (!stored.ok()) {
          reactor->Finish(ToGrpcStatus(stored.status()));
          return;
        }
        const absl::Time now = clock_->Now();
        ConsentWithdrawal w;
        w.consent_id = request->consent_id();
        w.at = now;
        w.reason = request->reason();
        w.notice_expires_at = now + options_.inbox_ttl;
        v1::LogEntry& e = w.entry;
        SetTime(e.mutable_time(), now);
        e.set_kind(v1::ENTRY_KIND_CONSENT_WITHDRAWN);
        e.set_actor(caller.uri());
        *e.mutable_professional() = professional;
        e.set_subject_pseudonym(stored->subject_pseudonym);
        e.set_consent_id(request->consent_id());
        e.set_basis(v1::BASIS_KIND_CONSENT);
        e.set_policy_version(policy_->Get()->version());
        e.set_allowed(true);
        e.set_reason(stored->consent.refused()
                         ? "refusal withdrawn: consent-based sharing is no "
                           "longer ruled out by it"
                         : "consent withdrawn with immediate effect: nothing "
                           "more is disclosed under it");
        store_->WithdrawConsent(
            std::move(w), [this, reactor, response, caller, waiters = waiters_](
                              absl::StatusOr<WithdrawnConsent> done) {
              if (!done.ok()) {
                reactor->Finish(ToGrpcStatus(done.status()));
                return;
              }
              *response = ConsentAsSeenBy(caller, done->consent);
              reactor->Finish(grpc::Status::OK);
              for (const std::string& agency : done->recalled) {
                waiters->Notify(agency);
              }
            });
      });
  return reactor;
}

}  // namespace liaison
