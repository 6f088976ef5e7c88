// The Exchange service's need-to-know summaries: push, request, answer.
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
#include "broker/store/case_rules.h"

namespace liaison {

using exchange::AddConsentFacts;
using exchange::AddOverrideAlert;
using exchange::AnswerThenNotify;
using exchange::FinishDenied;
using exchange::QueryFor;
using exchange::ViewLevel;

grpc::ServerUnaryReactor* ExchangeService::PushSummary(
    grpc::CallbackServerContext* ctx, const v1::PushSummaryRequest* request,
    v1::PushSummaryResponse* response) {
  absl::StatusOr<v1::Principal> sender = Admit(ctx, *request);
  if (!sender.ok()) return FinishUnary(ctx, sender.status());
  if (absl::Status s = ValidatePushSummary(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  const absl::Time now = clock_->Now();
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The agencies attached now are the recipients; the commit checks again
  // that the sender is still attached and the case is about the subject.
  store_->GetCase(
      sender->id(), request->case_id(),
      [this, reactor, request, response, now, sender = *sender,
       professional = ProfessionalOf(ctx)](absl::StatusOr<v1::Case> kase) {
        if (!kase.ok()) {
          reactor->Finish(ToGrpcStatus(kase.status()));
          return;
        }
        if (absl::Status open =
                CaseOpenFor(*kase, sender.id(), "push a summary");
            !open.ok()) {
          reactor->Finish(ToGrpcStatus(open));
          return;
        }
        const std::string pseudonym = pseudonyms_->Pseudonym(
            policy::RecordSubject(request->record())->identifier());
        WithConsentFacts(
            request->basis(), pseudonym, reactor,
            [this, reactor, request, response, now, sender, professional,
             pseudonym, kase = *std::move(kase)](const ConsentFacts& consent) {
              PushToCase(reactor, *request, response, now, sender, professional,
                         pseudonym, kase, consent);
            });
      });
  return reactor;
}

void ExchangeService::PushToCase(grpc::ServerUnaryReactor* reactor,
                                 const v1::PushSummaryRequest& req,
                                 v1::PushSummaryResponse* response,
                                 absl::Time now, const v1::Principal& sender,
                                 const v1::Professional& professional,
                                 const std::string& pseudonym,
                                 const v1::Case& kase,
                                 const ConsentFacts& consent) {
  const v1::PushSummaryRequest* request = &req;
  const v1::Record& record = request->record();
  const std::string summary_id = NewId("sum-");
  SummaryPush push;
  push.sender_agency_id = sender.id();
  push.idempotency_key = request->idempotency_key();
  push.request_digest = Sha256Hex(DeterministicBytes(*request));
  push.case_id = request->case_id();
  push.subject_pseudonym = pseudonym;
  push.expires_at = now + options_.inbox_ttl;
  push.response.set_summary_id(summary_id);
  EntryFacts facts;
  facts.actor = &sender;
  facts.professional = professional;
  facts.subject_pseudonym = push.subject_pseudonym;
  facts.case_id = request->case_id();
  facts.message_id = summary_id;
  facts.purpose = request->purpose();
  facts.basis = &request->basis();
  facts.record_type = policy::RecordType(record);
  facts.checklist = &request->checklist();
  facts.review_within =
      policy::OverrideReviewWindow(*policy_->Get(), sender.jurisdiction());
  facts.now = now;
  std::vector<std::string> delivered;
  for (const v1::CaseAgency& attached : kase.agencies()) {
    // A detached agency's part in the case is over.
    if (attached.agency_id() == sender.id() || attached.has_detached_at()) {
      continue;
    }
    SummaryPush::Outcome outcome;
    outcome.agency_id = attached.agency_id();
    Decided decided;
    std::optional<v1::Agency> to = registry_->FindAgency(attached.agency_id());
    if (!to) {
      decided.decision.reasons.push_back("the agency is no longer registered");
    } else if (to->status() == v1::AGENCY_STATUS_SUSPENDED) {
      decided.decision.reasons.push_back(
          "the agency is suspended and cannot receive summaries");
    } else {
      // Attached to the case: a legitimate relationship.
      policy::DisclosureQuery query =
          QueryFor(sender, *to, request->purpose(), request->basis(),
                   /*legitimate_relationship=*/true, facts.record_type, now);
      query.subject_pseudonym = pseudonym;
      query.checklist = request->checklist();
      AddConsentFacts(consent, &query);
      decided = DecideAndAbstract(query, &record);
    }
    const policy::Decision& decision = decided.decision;
    facts.counterpart = attached.agency_id();
    outcome.entry = DecisionEntry(
        facts, decision, decision.allowed ? &decided.abstracted : nullptr);
    v1::PushSummaryResponse::Delivery* d = push.response.add_deliveries();
    d->set_agency_id(attached.agency_id());
    d->set_level(decision.level);
    if (decision.allowed) {
      v1::InboxMessage& m = outcome.delivery.emplace();
      m.set_message_id(NewId("msg-"));
      SetTime(m.mutable_enqueued_at(), now);
      v1::SummaryReceived* summary = m.mutable_summary();
      summary->set_summary_id(summary_id);
      summary->set_sender_agency_id(sender.id());
      summary->set_case_id(request->case_id());
      *summary->mutable_record() = std::move(decided.abstracted);
      Envelope(*decided.policy, "summary", decision.level, summary, now,
               decision.agreement_id);
      NoteEnvelope("summary", summary->envelope(), *summary, &outcome.entry);
      delivered.push_back(attached.agency_id());
      AddOverrideAlert(*registry_, outcome.entry, sender.id(),
                       attached.agency_id(), {m.message_id()}, "", now,
                       &push.notices);
    } else {
      d->set_reason(decision.reasons.back());
    }
    push.outcomes.push_back(std::move(outcome));
  }
  if (!push.notices.empty()) delivered.push_back(sender.id());
  store_->CommitSummaryPush(
      std::move(push),
      AnswerThenNotify(reactor, response, waiters_, delivered));
}

grpc::ServerUnaryReactor* ExchangeService::RequestSummary(
    grpc::CallbackServerContext* ctx, const v1::RequestSummaryRequest* request,
    v1::RequestSummaryResponse* response) {
  absl::StatusOr<v1::Principal> requester = Admit(ctx, *request);
  if (!requester.ok()) return FinishUnary(ctx, requester.status());
  if (absl::Status s = ValidateRequestSummary(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  absl::StatusOr<v1::Agency> holder = Resolve(request->holder(), "holder");
  if (!holder.ok()) return FinishUnary(ctx, holder.status());
  if (holder->id() == requester->id()) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "an agency cannot ask itself for a summary"));
  }
  if (holder->status() == v1::AGENCY_STATUS_SUSPENDED) {
    return FinishUnary(ctx, absl::FailedPreconditionError(absl::StrCat(
                                "agency \"", holder->id(),
                                "\" is suspended and cannot answer summary "
                                "requests; nothing was stored")));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const std::string pseudonym =
      pseudonyms_->Pseudonym(request->subject().identifier());
  WithConsentFacts(
      request->basis(), pseudonym, reactor,
      [this, reactor, request, response, requester = *requester,
       holder = *holder, pseudonym,
       professional = ProfessionalOf(ctx)](const ConsentFacts& consent) {
        AskHolder(reactor, *request, response, requester, holder, professional,
                  pseudonym, consent);
      });
  return reactor;
}

void ExchangeService::AskHolder(grpc::ServerUnaryReactor* reactor,
                                const v1::RequestSummaryRequest& req,
                                v1::RequestSummaryResponse* response,
                                const v1::Principal& requester_principal,
                                const v1::Agency& holder_agency,
                                const v1::Professional& professional,
                                const std::string& pseudonym,
                                const ConsentFacts& consent) {
  const v1::RequestSummaryRequest* request = &req;
  const v1::Principal* requester = &requester_principal;
  const v1::Agency* holder = &holder_agency;
  const absl::Time now = clock_->Now();
  // The requester has a legitimate relationship when it is attached to the
  // case it names (the commit checks that, and that the case is about the
  // subject), or when the consent it relies on names it (Decide checks the
  // consent's recipients).
  const bool relationship =
      !request->case_id().empty() || request->basis().has_consent_id();
  // Decided as the answer will be: the holder discloses to the requester.
  // No record is attached yet, so the level is the most the answer may
  // carry; the answer is decided again with its record.
  policy::DisclosureQuery query =
      QueryFor(*holder, *requester, request->purpose(), request->basis(),
               relationship, "", now);
  // A risk the requester cites is for the holder to judge.
  query.override_requested = request->basis().has_override();
  query.subject_pseudonym = pseudonym;
  AddConsentFacts(consent, &query);
  const Decided decided = DecideAndAbstract(query, nullptr);
  const std::string request_id = NewId("sreq-");
  EntryFacts facts;
  facts.actor = requester;
  facts.professional = professional;
  facts.counterpart = holder->id();
  facts.subject_pseudonym = pseudonym;
  facts.case_id = request->case_id();
  facts.message_id = request_id;
  facts.purpose = request->purpose();
  facts.basis = &request->basis();
  facts.now = now;
  v1::LogEntry entry = DecisionEntry(facts, decided.decision, nullptr,
                                     v1::ENTRY_KIND_SUMMARY_REQUEST);
  if (!decided.decision.allowed) {
    FinishDenied(store_, reactor, std::move(entry));
    return;
  }
  NewSummaryRequest commit;
  commit.requester_agency_id = requester->id();
  commit.idempotency_key = request->idempotency_key();
  commit.request_digest = Sha256Hex(DeterministicBytes(*request));
  commit.holder_agency_id = holder->id();
  commit.case_id = request->case_id();
  commit.subject_pseudonym = facts.subject_pseudonym;
  commit.legitimate_relationship = relationship;
  commit.request.set_request_id(request_id);
  commit.request.set_requester_agency_id(requester->id());
  *commit.request.mutable_subject() = request->subject();
  commit.request.set_purpose(request->purpose());
  *commit.request.mutable_basis() = request->basis();
  commit.delivery.set_message_id(NewId("msg-"));
  SetTime(commit.delivery.mutable_enqueued_at(), now);
  // The broker keeps the request as asked, to decide the answer with; the
  // holder gets it at the level the answer may carry.
  v1::SummaryRequestReceived* delivered =
      commit.delivery.mutable_summary_request();
  *delivered = commit.request;
  Envelope(*decided.policy, "summary_request", decided.decision.level,
           delivered, now, decided.decision.agreement_id);
  NoteEnvelope("summary_request", delivered->envelope(), *delivered, &entry);
  commit.entry = std::move(entry);
  commit.expires_at = now + options_.inbox_ttl;
  commit.response.set_request_id(request_id);
  commit.response.set_holder_agency_id(holder->id());
  store_->CommitSummaryRequest(
      std::move(commit),
      AnswerThenNotify(reactor, response, waiters_, {holder->id()}));
}

grpc::ServerUnaryReactor* ExchangeService::AnswerSummaryRequest(
    grpc::CallbackServerContext* ctx,
    const v1::AnswerSummaryRequestRequest* request,
    v1::AnswerSummaryRequestResponse* response) {
  absl::StatusOr<v1::Principal> holder = Admit(ctx, *request);
  if (!holder.ok()) return FinishUnary(ctx, holder.status());
  if (absl::Status s = ValidateAnswerSummaryRequest(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetSummaryRequest(
      holder->id(), request->request_id(),
      [this, reactor, request, response, holder = *holder,
       professional =
           ProfessionalOf(ctx)](absl::StatusOr<StoredSummaryRequest> stored) {
        if (!stored.ok()) {
          reactor->Finish(ToGrpcStatus(stored.status()));
          return;
        }
        const v1::SummaryRequestReceived& asked = stored->request;
        if (absl::Status s = CheckAnswerable(*stored, asked.request_id());
            !s.ok()) {
          reactor->Finish(ToGrpcStatus(s));
          return;
        }
        const v1::Record& record = request->record();
        const std::string pseudonym =
            pseudonyms_->Pseudonym(policy::RecordSubject(record)->identifier());
        if (pseudonym != pseudonyms_->Pseudonym(asked.subject().identifier())) {
          reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
              "the record is about another person than summary "
              "request ",
              asked.request_id(), " asks about; nothing was disclosed"))));
          return;
        }
        std::optional<v1::Agency> requester =
            registry_->FindAgency(asked.requester_agency_id());
        if (!requester || requester->status() == v1::AGENCY_STATUS_SUSPENDED) {
          reactor->Finish(
              ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
                  "the requesting agency \"", asked.requester_agency_id(),
                  "\" is no longer registered or is suspended; "
                  "nothing was disclosed"))));
          return;
        }
        // The holder's own basis, else the request's. A copy: the lambda
        // below takes `stored` over.
        const v1::LegalBasis basis =
            request->has_basis() ? request->basis() : asked.basis();
        WithConsentFacts(
            basis, pseudonym, reactor,
            [this, reactor, request, response, holder, professional, pseudonym,
             stored = *std::move(stored),
             requester = *std::move(requester)](const ConsentFacts& consent) {
              Answer(reactor, *request, response, holder, professional,
                     pseudonym, stored, requester, consent);
            });
      });
  return reactor;
}

void ExchangeService::Answer(grpc::ServerUnaryReactor* reactor,
                             const v1::AnswerSummaryRequestRequest& req,
                             v1::AnswerSummaryRequestResponse* response,
                             const v1::Principal& holder,
                             const v1::Professional& professional,
                             const std::string& pseudonym,
                             const StoredSummaryRequest& stored_request,
                             const v1::Agency& requesting_agency,
                             const ConsentFacts& consent) {
  const v1::AnswerSummaryRequestRequest* request = &req;
  const StoredSummaryRequest* stored = &stored_request;
  const v1::Agency* requester = &requesting_agency;
  const v1::SummaryRequestReceived& asked = stored->request;
  const v1::Record& record = request->record();
  const absl::Time now = clock_->Now();
  const v1::LegalBasis& basis =
      request->has_basis() ? request->basis() : asked.basis();
  policy::DisclosureQuery query = QueryFor(
      holder, *requester, asked.purpose(), basis,
      stored->legitimate_relationship, policy::RecordType(record), now);
  query.subject_pseudonym = pseudonym;
  query.checklist = request->checklist();
  AddConsentFacts(consent, &query);
  Decided decided;
  if (request->has_basis() || !asked.basis().has_override()) {
    decided = DecideAndAbstract(query, &record);
  } else {
    // The requester's override is its own judgement of the risk, not the
    // holder's: the holder's data leaves only on the holder's judgement.
    decided.policy = policy_->Get();
    decided.decision.policy_version = decided.policy->version();
    decided.decision.reasons.push_back(absl::StrCat(
        "summary request ", asked.request_id(),
        " cites a risk the requesting agency assessed; an override is the "
        "holder's own judgement: answer with "
        "basis.override giving the category, the legal provision, your "
        "statement, an assessor from your agency and, where the agreement "
        "asks for two persons, an approver from your agency; or answer under "
        "a consent or statutory duty of your own"));
  }
  const std::string summary_id = NewId("sum-");
  EntryFacts facts;
  facts.actor = &holder;
  facts.professional = professional;
  facts.counterpart = requester->id();
  facts.subject_pseudonym = pseudonym;
  facts.case_id = stored->case_id;
  facts.message_id = summary_id;
  facts.purpose = asked.purpose();
  facts.basis = &basis;
  facts.record_type = policy::RecordType(record);
  facts.checklist = &request->checklist();
  facts.review_within =
      policy::OverrideReviewWindow(*decided.policy, holder.jurisdiction());
  facts.now = now;
  v1::LogEntry entry =
      DecisionEntry(facts, decided.decision, &decided.abstracted);
  if (!decided.decision.allowed) {
    FinishDenied(store_, reactor, std::move(entry));
    return;
  }
  std::vector<std::string> notify = {requester->id()};
  SummaryAnswer answer;
  answer.holder_agency_id = holder.id();
  answer.request_id = asked.request_id();
  answer.requester_agency_id = requester->id();
  answer.delivery.set_message_id(NewId("msg-"));
  SetTime(answer.delivery.mutable_enqueued_at(), now);
  v1::SummaryReceived* summary = answer.delivery.mutable_summary();
  summary->set_summary_id(summary_id);
  summary->set_sender_agency_id(holder.id());
  summary->set_case_id(stored->case_id);
  summary->set_request_id(asked.request_id());
  *summary->mutable_record() = std::move(decided.abstracted);
  Envelope(*decided.policy, "summary", decided.decision.level, summary, now,
           decided.decision.agreement_id);
  NoteEnvelope("summary", summary->envelope(), *summary, &entry);
  AddOverrideAlert(*registry_, entry, holder.id(), requester->id(),
                   {answer.delivery.message_id()}, "", now, &answer.notices);
  if (!answer.notices.empty()) notify.push_back(holder.id());
  answer.entry = std::move(entry);
  answer.expires_at = now + options_.inbox_ttl;
  store_->CommitSummaryAnswer(
      std::move(answer),
      [reactor, response, level = decided.decision.level, waiters = waiters_,
       notify = std::move(notify)](absl::StatusOr<uint64_t> sequence) {
        if (!sequence.ok()) {
          reactor->Finish(ToGrpcStatus(sequence.status()));
          return;
        }
        response->set_level(level);
        reactor->Finish(grpc::Status::OK);
        for (const std::string& to : notify) waiters->Notify(to);
      });
}

}  // namespace liaison
