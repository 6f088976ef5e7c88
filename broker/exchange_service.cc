#include "broker/exchange_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/time_format.h"
#include "broker/exchange_support.h"
#include "broker/inbox_stream.h"
#include "broker/log/message_util.h"
#include "broker/log_entries.h"
#include "broker/referral_lifecycle.h"
#include "broker/request_shape.h"

namespace liaison {

using exchange::AddConsentFacts;
using exchange::AddOverrideAlert;
using exchange::AnswerThenNotify;
using exchange::FinishDenied;
using exchange::QueryFor;
using exchange::ViewLevel;

ExchangeService::ExchangeService(const Authenticator* auth,
                                 const Registry* registry, Store* store,
                                 const policy::PolicyInForce* policy,
                                 const Pseudonymizer* pseudonyms,
                                 InboxWaiters* waiters, const Clock* clock,
                                 ExchangeOptions options)
    : auth_(auth),
      registry_(registry),
      store_(store),
      policy_(policy),
      pseudonyms_(pseudonyms),
      waiters_(waiters),
      clock_(clock),
      options_(options) {}

absl::StatusOr<v1::Principal> ExchangeService::Admit(
    grpc::CallbackServerContext* ctx,
    const google::protobuf::Message& request) const {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return caller;
  if (absl::Status s = CheckRequestShape(request); !s.ok()) return s;
  return caller;
}

grpc::ServerUnaryReactor* ExchangeService::SendReferral(
    grpc::CallbackServerContext* ctx, const v1::SendReferralRequest* request,
    v1::SendReferralResponse* response) {
  absl::StatusOr<v1::Principal> sender = Admit(ctx, *request);
  if (!sender.ok()) return FinishUnary(ctx, sender.status());
  if (absl::Status s = ValidateSendReferral(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }

  absl::StatusOr<v1::Agency> recipient =
      Resolve(request->destination(), "destination");
  if (!recipient.ok()) return FinishUnary(ctx, recipient.status());
  if (recipient->id() == sender->id()) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError("an agency cannot refer to itself"));
  }
  if (recipient->status() == v1::AGENCY_STATUS_SUSPENDED) {
    return FinishUnary(ctx, absl::FailedPreconditionError(absl::StrCat(
                                "agency \"", recipient->id(),
                                "\" is suspended and cannot receive "
                                "referrals; nothing was stored")));
  }

  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const std::string pseudonym =
      pseudonyms_->Pseudonym(request->subject().identifier());
  WithConsentFacts(
      request->basis(), pseudonym, reactor,
      [this, reactor, request, response, sender = *sender,
       recipient = *recipient, pseudonym,
       professional = ProfessionalOf(ctx)](const ConsentFacts& consent) {
        const absl::Time now = clock_->Now();
        // The named recipient of a referral has a legitimate relationship.
        policy::DisclosureQuery query =
            QueryFor(sender, recipient, request->purpose(), request->basis(),
                     /*legitimate_relationship=*/true,
                     policy::RecordType(request->record()), now);
        query.subject_pseudonym = pseudonym;
        query.checklist = request->checklist();
        AddConsentFacts(consent, &query);
        const Decided decided = DecideAndAbstract(query, &request->record());
        const policy::Decision& decision = decided.decision;
        const v1::AbstractedRecord& abstracted = decided.abstracted;

        const std::string referral_id = NewId("ref-");
        const bool opens_case = request->case_id().empty();
        const std::string case_id =
            opens_case ? NewId("case-") : request->case_id();
        EntryFacts facts;
        facts.actor = &sender;
        facts.professional = professional;
        facts.counterpart = recipient.id();
        facts.subject_pseudonym = pseudonym;
        facts.case_id = case_id;
        facts.message_id = referral_id;
        facts.purpose = request->purpose();
        facts.basis = &request->basis();
        facts.record_type = query.record_type;
        facts.checklist = &request->checklist();
        facts.review_within = policy::OverrideReviewWindow(
            *decided.policy, sender.jurisdiction());
        facts.now = now;
        v1::LogEntry entry = DecisionEntry(facts, decision, &abstracted);

        if (!decision.allowed) {
          // Denials are logged too; if the log cannot take it, say so.
          FinishDenied(store_, reactor, std::move(entry));
          return;
        }

        NewReferral commit;
        commit.sender_agency_id = sender.id();
        commit.idempotency_key = request->idempotency_key();
        commit.request_digest = Sha256Hex(DeterministicBytes(*request));
        commit.opens_case = opens_case;
        commit.expires_at = now + options_.inbox_ttl;
        if (request->urgency() == v1::URGENCY_WITHIN_24H) {
          commit.acknowledge_by = now + options_.acknowledge_within_24h;
        } else if (request->urgency() == v1::URGENCY_IMMEDIATE) {
          commit.acknowledge_by = now + options_.acknowledge_immediate;
        }
        v1::Referral& referral = commit.referral;
        referral.set_referral_id(referral_id);
        referral.set_case_id(case_id);
        referral.set_sender_agency_id(sender.id());
        referral.set_recipient_agency_id(recipient.id());
        referral.set_status(v1::REFERRAL_STATUS_SENT);
        referral.set_urgency(request->urgency());
        *referral.mutable_concerns() = request->concerns();
        referral.set_requested_action(request->requested_action());
        *referral.mutable_subject() = request->subject();
        if (request->basis().has_consent_id()) {
          referral.set_consent_id(request->basis().consent_id());
        }
        *referral.mutable_record() = abstracted;
        v1::ReferralEvent* sent = referral.add_history();
        sent->set_status(v1::REFERRAL_STATUS_SENT);
        SetTime(sent->mutable_at(), now);
        sent->set_by_agency_id(sender.id());
        *sent->mutable_by() = professional;
        // The whole referral crosses at the decided level, not only its
        // record; what is stored is what the recipient may see.
        Envelope(*decided.policy, "referral", decision.level, &referral, now,
                 decision.agreement_id);
        NoteEnvelope("referral", referral.envelope(), referral, &entry);
        commit.delivery.set_message_id(NewId("msg-"));
        SetTime(commit.delivery.mutable_enqueued_at(), now);
        *commit.delivery.mutable_referral() = referral;
        commit.delivery.set_referral_id(referral_id);
        AddOverrideAlert(*registry_, entry, sender.id(), recipient.id(),
                         {commit.delivery.message_id()}, referral_id, now,
                         &commit.notices);
        commit.disclosure = std::move(entry);
        commit.response.set_referral_id(referral_id);
        commit.response.set_case_id(case_id);
        commit.response.set_recipient_agency_id(recipient.id());
        commit.response.set_level(decision.level);
        commit.response.set_policy_version(decision.policy_version);
        std::vector<std::string> notify = {recipient.id()};
        if (!commit.notices.empty()) notify.push_back(sender.id());
        store_->CommitReferral(
            std::move(commit),
            AnswerThenNotify(reactor, response, waiters_, std::move(notify)));
      });
  return reactor;
}

// Notices are written by the broker's sweeper and store, which hold no
// policy; they are reduced here, on their way out.
std::function<void(v1::InboxMessage*)> ExchangeService::NoticeEgress() const {
  return [this](v1::InboxMessage* m) {
    if (!m->has_notice()) return;
    const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
    Envelope(*policy, "notice", ViewLevel(*policy, "notice"),
             m->mutable_notice(), clock_->Now());
  };
}

grpc::ServerWriteReactor<v1::InboxMessage>* ExchangeService::Receive(
    grpc::CallbackServerContext* ctx, const v1::ReceiveRequest* request) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) {
    return new RefusedStream<v1::InboxMessage>(caller.status());
  }
  absl::Duration lease = request->lease_seconds() == 0
                             ? options_.default_lease
                             : absl::Seconds(request->lease_seconds());
  if (lease > options_.max_lease) {
    return new RefusedStream<v1::InboxMessage>(absl::InvalidArgumentError(
        absl::StrCat("lease_seconds may be at most ",
                     absl::ToInt64Seconds(options_.max_lease))));
  }
  return NewInboxStream(ctx, *caller, lease, auth_, store_, waiters_, clock_,
                        NoticeEgress());
}

void ExchangeService::Acknowledge(const v1::Principal& caller,
                                  const v1::Professional& professional,
                                  const std::string& message_id,
                                  std::function<void(absl::Status)> done) {
  if (message_id.empty()) {
    done(absl::InvalidArgumentError("message_id is missing"));
    return;
  }
  const absl::Time now = clock_->Now();
  v1::LogEntry delivery;
  SetTime(delivery.mutable_time(), now);
  delivery.set_kind(v1::ENTRY_KIND_DELIVERY);
  delivery.set_actor(caller.uri());
  *delivery.mutable_professional() = professional;
  delivery.set_message_id(message_id);
  delivery.set_allowed(true);
  delivery.set_reason("delivered to and acknowledged by the recipient");
  v1::InboxMessage update;
  update.set_message_id(NewId("msg-"));
  SetTime(update.mutable_enqueued_at(), now);
  store_->AckMessage(caller.id(), message_id, now, std::move(delivery),
                     std::move(update), now + options_.inbox_ttl,
                     [done = std::move(done),
                      waiters = waiters_](absl::StatusOr<std::string> told) {
                       done(told.status());
                       if (told.ok() && !told->empty()) waiters->Notify(*told);
                     });
}

grpc::ServerUnaryReactor* ExchangeService::Ack(grpc::CallbackServerContext* ctx,
                                               const v1::AckRequest* request,
                                               v1::AckResponse* /*response*/) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Acknowledge(*caller, ProfessionalOf(ctx), request->message_id(),
              [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });
  return reactor;
}

grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>*
ExchangeService::Deliver(grpc::CallbackServerContext* ctx) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, v1::DeliverRequest());
  if (!caller.ok()) {
    return new RefusedBidiStream<v1::DeliverRequest, v1::DeliverResponse>(
        caller.status());
  }
  const v1::Professional professional = ProfessionalOf(ctx);
  return NewDeliverStream(
      ctx, *caller, {options_.default_lease, options_.max_lease}, auth_, store_,
      waiters_, clock_, NoticeEgress(),
      [this, principal = *caller, professional](
          const std::string& message_id,
          std::function<void(absl::Status)> done) {
        Acknowledge(principal, professional, message_id, std::move(done));
      });
}

grpc::ServerUnaryReactor* ExchangeService::GetReferral(
    grpc::CallbackServerContext* ctx, const v1::GetReferralRequest* request,
    v1::Referral* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  const v1::Professional professional = ProfessionalOf(ctx);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetReferral(caller->id(), request->referral_id(),
                      [this, reactor, response, caller = caller->id(),
                       access = AccessEntry(clock_->Now(), caller->uri(),
                                            &professional, "GetReferral")](
                          absl::StatusOr<v1::Referral> r) mutable {
                        if (!r.ok())
                          return reactor->Finish(ToGrpcStatus(r.status()));
                        access.set_case_id(r->case_id());
                        access.set_message_id(r->referral_id());
                        // The sender sees the recipient's changes only as fed
                        // back.
                        if (r->sender_agency_id() == caller) {
                          access.set_counterpart(r->recipient_agency_id());
                          *response = AsSenderSees(*r);
                        } else {
                          access.set_counterpart(r->sender_agency_id());
                          *response = *std::move(r);
                        }
                        FinishAfterAccess(store_, reactor, std::move(access));
                      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::UpdateReferral(
    grpc::CallbackServerContext* ctx, const v1::UpdateReferralRequest* request,
    v1::Referral* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->referral_id().empty()) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError("referral_id is missing"));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetReferral(
      caller->id(), request->referral_id(),
      [this, reactor, request, response, caller = *caller,
       professional = ProfessionalOf(ctx)](absl::StatusOr<v1::Referral> r) {
        if (!r.ok()) {
          reactor->Finish(ToGrpcStatus(r.status()));
          return;
        }
        if (r->recipient_agency_id() != caller.id()) {
          reactor->Finish(ToGrpcStatus(absl::PermissionDeniedError(
              "only the recipient of a referral moves it through its "
              "lifecycle; the sender follows it in its inbox")));
          return;
        }
        if (absl::Status s = CheckRecipientTransition(
                r->status(), request->status(), request->detail());
            !s.ok()) {
          reactor->Finish(ToGrpcStatus(s));
          return;
        }
        v1::LegalBasis basis = request->basis();
        if (basis.basis_case() == v1::LegalBasis::BASIS_NOT_SET &&
            !r->consent_id().empty()) {
          basis.set_consent_id(r->consent_id());
        }
        const std::string pseudonym =
            pseudonyms_->Pseudonym(r->subject().identifier());
        WithConsentFacts(
            basis, pseudonym, reactor,
            [this, reactor, request, response, caller, professional, basis,
             pseudonym, referral = *std::move(r)](const ConsentFacts& consent) {
              const absl::Time now = clock_->Now();
              std::optional<v1::Agency> sender =
                  registry_->FindAgency(referral.sender_agency_id());
              if (!sender) {
                sender.emplace();
                sender->set_id(referral.sender_agency_id());
              }
              // The sender is the referral's own party: a legitimate
              // relationship. Nothing is attached; the level decides what
              // of the change it learns.
              policy::DisclosureQuery query =
                  QueryFor(caller, *sender, "referral_feedback", basis,
                           /*legitimate_relationship=*/true, "", now);
              query.subject_pseudonym = pseudonym;
              AddConsentFacts(consent, &query);
              const Decided decided = DecideAndAbstract(query, nullptr);
              const policy::Decision& decision = decided.decision;

              ReferralChange change;
              change.agency_id = caller.id();
              change.referral_id = referral.referral_id();
              change.event.set_status(request->status());
              SetTime(change.event.mutable_at(), now);
              change.event.set_by_agency_id(caller.id());
              *change.event.mutable_by() = professional;
              change.event.set_detail(request->detail());
              change.event.set_feedback_level(decision.level);
              if (decision.allowed) {
                change.event.set_feedback_agreement_id(decision.agreement_id);
              }
              EntryFacts facts;
              facts.actor = &caller;
              facts.professional = professional;
              facts.counterpart = referral.sender_agency_id();
              facts.subject_pseudonym = pseudonym;
              facts.case_id = referral.case_id();
              facts.message_id = referral.referral_id();
              facts.purpose = "referral_feedback";
              facts.basis = &basis;
              facts.review_within = policy::OverrideReviewWindow(
                  *decided.policy, caller.jurisdiction());
              facts.now = now;
              change.feedback = DecisionEntry(facts, decision, nullptr);
              change.feedback.set_reason(
                  absl::StrCat("referral ", referral.referral_id(), " became ",
                               StatusName(request->status()), "; ",
                               change.feedback.reason()));
              if (decision.allowed) {
                change.sender_event =
                    ToldToSender(*decided.policy, change.event, decision.level);
                NoteEnvelope("referral_update", change.sender_event.envelope(),
                             change.sender_event, &change.feedback);
                v1::InboxMessage& update = change.update.emplace();
                update.set_message_id(NewId("msg-"));
                SetTime(update.mutable_enqueued_at(), now);
              }
              change.update_expires_at = now + options_.inbox_ttl;
              store_->ChangeReferral(
                  std::move(change), [reactor, response, waiters = waiters_,
                                      told = decision.allowed](
                                         absl::StatusOr<v1::Referral> changed) {
                    if (changed.ok()) *response = *changed;
                    reactor->Finish(ToGrpcStatus(changed.status()));
                    if (changed.ok() && told)
                      waiters->Notify(changed->sender_agency_id());
                  });
            });
      });
  return reactor;
}

v1::Referral ExchangeService::AsSenderSees(const v1::Referral& referral) const {
  const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
  return SenderView(referral, [&](const v1::ReferralEvent& e) {
    return ToldToSender(*policy, e, e.feedback_level());
  });
}

grpc::ServerUnaryReactor* ExchangeService::RecallReferral(
    grpc::CallbackServerContext* ctx, const v1::RecallReferralRequest* request,
    v1::Referral* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->referral_id().empty()) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError("referral_id is missing"));
  }
  if (request->reason() == v1::RECALL_REASON_UNSPECIFIED) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError(
                 "reason is missing; say why the referral is taken back, "
                 "e.g. RECALL_REASON_WRONG_RECIPIENT"));
  }
  const absl::Time now = clock_->Now();
  ReferralTakeBack take_back;
  take_back.agency_id = caller->id();
  take_back.referral_id = request->referral_id();
  take_back.reason = request->reason();
  take_back.by = ProfessionalOf(ctx);
  take_back.at = now;
  SetTime(take_back.entry.mutable_time(), now);
  take_back.entry.set_actor(caller->uri());
  *take_back.entry.mutable_professional() = take_back.by;
  take_back.notice_expires_at = now + options_.inbox_ttl;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->TakeBackReferral(
      std::move(take_back),
      [this, reactor, response](absl::StatusOr<TakenBack> taken) {
        if (!taken.ok()) return reactor->Finish(ToGrpcStatus(taken.status()));
        *response = AsSenderSees(taken->referral);
        reactor->Finish(grpc::Status::OK);
        if (!taken->notified_agency_id.empty()) {
          waiters_->Notify(taken->notified_agency_id);
        }
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::RecordManualDisclosure(
    grpc::CallbackServerContext* ctx,
    const v1::RecordManualDisclosureRequest* request,
    v1::RecordManualDisclosureResponse* response) {
  absl::StatusOr<v1::Principal> caller = Admit(ctx, *request);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  const v1::RecordManualDisclosureRequest& r = *request;
  const absl::Time now = clock_->Now();
  std::vector<std::string> problems;
  if (r.idempotency_key().empty() || r.idempotency_key().size() > 128) {
    problems.push_back("idempotency_key must be 1 to 128 characters");
  }
  if (r.recipient_agency_id().empty()) {
    problems.push_back("recipient_agency_id is missing");
  }
  if (r.subject().identifier().empty()) {
    problems.push_back("subject.identifier is missing");
  }
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  if (r.level() == v1::LEVEL_NONE || !v1::Level_IsValid(r.level())) {
    problems.push_back("level must be SIGNAL, CATEGORY, SUMMARY or FULL");
  }
  if (r.basis().basis_case() == v1::LegalBasis::BASIS_NOT_SET) {
    problems.push_back(
        "basis is missing: a consent_id, an override or a statutory_duty");
  }
  if (r.channel().size() > 200) {
    problems.push_back("channel is over 200 characters");
  }
  if (!r.has_disclosed_at()) {
    problems.push_back("disclosed_at is missing");
  } else if (TimeOf(r.disclosed_at()) > now + absl::Minutes(5)) {
    problems.push_back("disclosed_at is in the future");
  }
  if (!problems.empty()) {
    return FinishUnary(ctx, absl::InvalidArgumentError(absl::StrCat(
                                "the manual disclosure is malformed: ",
                                absl::StrJoin(problems, "; "))));
  }
  if (r.recipient_agency_id() == caller->id()) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError("an agency cannot disclose to itself"));
  }
  if (!registry_->FindAgency(r.recipient_agency_id()).has_value()) {
    return FinishUnary(
        ctx, absl::NotFoundError(absl::StrCat(
                 "no agency \"", r.recipient_agency_id(),
                 "\" is registered; check the id with the recipient")));
  }
  ManualDisclosure disclosure;
  disclosure.agency_id = caller->id();
  disclosure.idempotency_key = r.idempotency_key();
  disclosure.request_digest = Sha256Hex(DeterministicBytes(r));
  disclosure.case_id = r.case_id();
  v1::LogEntry& e = disclosure.entry;
  SetTime(e.mutable_time(), now);
  e.set_kind(v1::ENTRY_KIND_MANUAL_DISCLOSURE);
  e.set_actor(caller->uri());
  *e.mutable_professional() = ProfessionalOf(ctx);
  e.set_counterpart(r.recipient_agency_id());
  e.set_subject_pseudonym(pseudonyms_->Pseudonym(r.subject().identifier()));
  e.set_case_id(r.case_id());
  e.set_level(r.level());
  e.set_basis(BasisKindOf(r.basis()));
  if (r.basis().has_consent_id()) e.set_consent_id(r.basis().consent_id());
  if (r.basis().has_override()) {
    *e.mutable_justification() =
        policy::NormalisedJustification(r.basis().override());
    e.set_statement_digest(Sha256Hex(r.basis().override().statement()));
    SetTime(e.mutable_review_by(),
            now + policy::OverrideReviewWindow(*policy_->Get(),
                                               caller->jurisdiction()));
  }
  e.set_purpose(r.purpose());
  e.set_allowed(true);
  for (std::string& step : policy::ConfirmedChecklistSteps(r.checklist())) {
    e.add_checklist_attested(std::move(step));
  }
  // What happened is recorded either way; a step the policy required and
  // the sender did not confirm is named for the auditor.
  const std::vector<std::string> unconfirmed = policy::MissingChecklistSteps(
      *policy_->Get(), caller->sector(), r.checklist());
  e.set_reason(absl::StrCat(
      "disclosed outside the system at ", Rfc3339(TimeOf(r.disclosed_at())),
      r.channel().empty() ? "" : absl::StrCat(" (", r.channel(), ")"),
      unconfirmed.empty()
          ? ""
          : absl::StrCat("; pre-sharing checklist steps the policy requires "
                         "were not confirmed: ",
                         absl::StrJoin(unconfirmed, ", "))));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->RecordManualDisclosure(
      std::move(disclosure),
      [reactor, response](absl::StatusOr<uint64_t> sequence) {
        if (sequence.ok()) response->set_log_sequence(*sequence);
        reactor->Finish(ToGrpcStatus(sequence.status()));
      });
  return reactor;
}

ExchangeService::Decided ExchangeService::DecideAndAbstract(
    const policy::DisclosureQuery& query, const v1::Record* record) const {
  const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
  Decided out;
  out.policy = policy;
  out.decision = policy::Decide(*policy, query);
  if (record != nullptr) {
    out.abstracted =
        policy::Abstract(*policy, *record, out.decision,
                         absl::ToCivilDay(query.at, absl::UTCTimeZone()),
                         pseudonyms_->FieldHashKey());
  }
  return out;
}

void ExchangeService::Envelope(const policy::PolicySet& policy,
                               absl::string_view name, v1::Level level,
                               google::protobuf::Message* message,
                               absl::Time now,
                               absl::string_view agreement_id) const {
  policy::AbstractEnvelope(policy, name, level, message,
                           absl::ToCivilDay(now, absl::UTCTimeZone()),
                           pseudonyms_->FieldHashKey(), agreement_id);
}

v1::ReferralEvent ExchangeService::ToldToSender(const policy::PolicySet& policy,
                                                const v1::ReferralEvent& event,
                                                v1::Level level) const {
  v1::ReferralEvent out = event;
  out.set_feedback_level(level);
  Envelope(policy, "referral_update", level, &out, TimeOf(event.at()),
           event.feedback_agreement_id());
  return out;
}

absl::StatusOr<v1::Agency> ExchangeService::Resolve(
    const v1::Destination& destination, absl::string_view what) const {
  if (destination.has_agency_id()) {
    std::optional<v1::Agency> agency =
        registry_->FindAgency(destination.agency_id());
    if (!agency) {
      return absl::NotFoundError(absl::StrCat(
          "no agency \"", destination.agency_id(), "\" is registered (the ",
          what, "); nothing was stored"));
    }
    return *std::move(agency);
  }
  const auto& where = destination.sector_in_area();
  std::optional<v1::Agency> agency =
      registry_->ResolveRoute(where.sector(), where.area());
  if (!agency) {
    return absl::NotFoundError(absl::StrCat(
        "the routing directory names no ", where.sector(),
        " agency for area \"", where.area(), "\"; nothing was stored"));
  }
  return *std::move(agency);
}

}  // namespace liaison
