#include "broker/exchange_service.h"

#include <deque>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "broker/message_util.h"
#include "certs/x509.h"

namespace liaison {
namespace {

bool IsDate(const std::string& s) {
  absl::CivilDay day;
  return s.size() == 10 && absl::ParseCivilTime(s, &day);
}

v1::BasisKind BasisKindOf(const v1::LegalBasis& basis) {
  switch (basis.basis_case()) {
    case v1::LegalBasis::kConsentId:
      return v1::BASIS_KIND_CONSENT;
    case v1::LegalBasis::kOverride:
      return v1::BASIS_KIND_OVERRIDE;
    case v1::LegalBasis::kStatutoryDuty:
      return v1::BASIS_KIND_STATUTORY_DUTY;
    case v1::LegalBasis::BASIS_NOT_SET:
      break;
  }
  return v1::BASIS_KIND_UNSPECIFIED;
}

// The log entry for a referral decision. It holds no record content and no
// raw identifier (DESIGN.md rule 4): the subject by pseudonym, the
// justification without its statement, the payload by digest.
v1::LogEntry DecisionEntry(
    const v1::Principal& sender, const v1::Professional& professional,
    const std::string& recipient_id, const v1::SendReferralRequest& request,
    const policy::Decision& decision, const v1::AbstractedRecord& abstracted,
    const std::string& pseudonym, const std::string& referral_id,
    const std::string& case_id, absl::Time now) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), now);
  e.set_kind(decision.allowed ? v1::ENTRY_KIND_DISCLOSURE
                              : v1::ENTRY_KIND_DENIAL);
  e.set_actor(sender.uri());
  *e.mutable_professional() = professional;
  e.set_counterpart(recipient_id);
  e.set_subject_pseudonym(pseudonym);
  e.set_case_id(case_id);
  e.set_message_id(referral_id);
  e.set_record_type(policy::RecordType(request.record()));
  e.set_level(decision.level);
  for (const v1::FieldOutcome& f : abstracted.fields()) {
    if (f.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD) {
      e.add_fields_withheld(f.field());
    } else {
      e.add_fields_disclosed(f.field());
    }
  }
  e.set_basis(BasisKindOf(request.basis()));
  if (request.basis().has_consent_id()) {
    e.set_consent_id(request.basis().consent_id());
  }
  if (request.basis().has_override()) {
    *e.mutable_justification() = request.basis().override();
    e.mutable_justification()->clear_statement();
  }
  e.set_agreement_id(decision.agreement_id);
  e.set_policy_version(decision.policy_version);
  if (decision.allowed) {
    e.set_payload_digest(Sha256Hex(DeterministicBytes(abstracted)));
  }
  e.set_allowed(decision.allowed);
  e.set_reason(absl::StrJoin(decision.reasons, "; "));
  e.set_purpose(request.purpose());
  return e;
}

// Streams one agency's inbox: leases pending messages from the store,
// writes them one at a time, and when none is left waits to be woken by a
// new message or the end of a lease. At most one store call or write is
// outstanding, and Finish comes only when neither is, so the reactor is
// deleted only when nothing refers to it. gRPC and store calls are made
// outside the lock because either may call back on the same thread.
class InboxStream final : public grpc::ServerWriteReactor<v1::InboxMessage> {
 public:
  InboxStream(std::string agency_id, absl::Duration lease, Store* store,
              InboxWaiters* waiters, const Clock* clock)
      : agency_id_(std::move(agency_id)),
        lease_(lease),
        store_(store),
        waiters_(waiters),
        clock_(clock),
        waker_(std::make_shared<Waker>(this)) {
    waiters_->Add(agency_id_, waker_);
    Step step;
    {
      absl::MutexLock lock(&mu_);
      again_ = true;
      step = NextLocked();
    }
    Run(step);
  }

  void OnWriteDone(bool ok) override {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        if (!finish_) {
          finish_ = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the stream broke while writing");
        }
      } else {
        queue_.pop_front();
      }
      step = NextLocked();
    }
    Run(step);
  }

  void OnCancel() override {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_) finish_ = grpc::Status::CANCELLED;
      step = NextLocked();
    }
    Run(step);
  }

  void OnDone() override {
    waker_->Detach();
    delete this;
  }

 private:
  // The part of the stream the waiters hold; it may outlive the reactor and
  // forwards wake-ups only while the reactor lives.
  class Waker final : public InboxWaiters::Waiter {
   public:
    explicit Waker(InboxStream* stream) : stream_(stream) {}
    void Wake() override {
      absl::MutexLock lock(&mu_);
      if (stream_ != nullptr) stream_->Wake();
    }
    void Detach() {
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
    }

   private:
    absl::Mutex mu_;
    InboxStream* stream_ ABSL_GUARDED_BY(mu_);
  };

  struct Step {
    enum { kNothing, kFetch, kWrite, kFinish } action = kNothing;
    const v1::InboxMessage* message = nullptr;
    grpc::Status status;
  };

  void Wake() {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      again_ = true;
      step = NextLocked();
    }
    Run(step);
  }

  // Decides what to do after any event: write, fetch, finish or wait.
  Step NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Step step;
    if (fetching_ || writing_ || finished_) return step;
    if (finish_) {
      finished_ = true;
      step.action = Step::kFinish;
      step.status = *finish_;
    } else if (!queue_.empty()) {
      writing_ = true;
      step.action = Step::kWrite;
      step.message = &queue_.front();
    } else if (again_) {
      // Look again only after a wake-up or a full batch; an empty look
      // waits for the next wake-up.
      fetching_ = true;
      again_ = false;
      step.action = Step::kFetch;
    }
    return step;
  }

  void Run(const Step& step) {
    switch (step.action) {
      case Step::kNothing:
        return;
      case Step::kWrite:
        StartWrite(step.message);
        return;
      case Step::kFinish:
        Finish(step.status);
        return;
      case Step::kFetch:
        break;
    }
    store_->LeaseInbox(
        agency_id_, clock_->Now(), lease_, static_cast<int>(kBatch),
        [this](absl::StatusOr<InboxLease> lease) {
          Step next;
          {
            absl::MutexLock lock(&mu_);
            fetching_ = false;
            if (!lease.ok()) {
              if (!finish_) finish_ = ToGrpcStatus(lease.status());
            } else {
              if (lease->messages.size() == kBatch) again_ = true;
              for (v1::InboxMessage& m : lease->messages) {
                queue_.push_back(std::move(m));
              }
              if (lease->next_lease_end != absl::InfiniteFuture()) {
                waiters_->WakeAt(waker_, absl::Now() + (lease->next_lease_end -
                                                        clock_->Now()));
              }
            }
            next = NextLocked();
          }
          Run(next);
        });
  }

  static constexpr size_t kBatch = 16;

  const std::string agency_id_;
  const absl::Duration lease_;
  Store* const store_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const std::shared_ptr<Waker> waker_;

  absl::Mutex mu_;
  std::deque<v1::InboxMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status ValidateSendReferral(const v1::SendReferralRequest& r) {
  std::vector<std::string> problems;
  if (r.idempotency_key().empty() || r.idempotency_key().size() > 128) {
    problems.push_back("idempotency_key must be 1 to 128 characters");
  }
  switch (r.destination().target_case()) {
    case v1::Destination::kAgencyId:
      if (r.destination().agency_id().empty()) {
        problems.push_back("destination.agency_id is empty");
      }
      break;
    case v1::Destination::kSectorInArea:
      if (r.destination().sector_in_area().sector().empty() ||
          r.destination().sector_in_area().area().empty()) {
        problems.push_back(
            "destination.sector_in_area needs both sector and area");
      }
      break;
    case v1::Destination::TARGET_NOT_SET:
      problems.push_back(
          "destination is missing: give an agency_id or a sector_in_area");
      break;
  }
  if (r.subject().identifier().empty()) {
    problems.push_back("subject.identifier is missing");
  }
  if (!r.subject().birth_date().empty() && !IsDate(r.subject().birth_date())) {
    problems.push_back(absl::StrCat("subject.birth_date \"",
                                    r.subject().birth_date(),
                                    "\" is not a date YYYY-MM-DD"));
  }
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  if (r.urgency() == v1::URGENCY_UNSPECIFIED) {
    problems.push_back("urgency is missing: ROUTINE, WITHIN_24H or IMMEDIATE");
  }
  if (r.concerns().empty()) {
    problems.push_back("concerns: name at least one concern category");
  }
  for (int c : r.concerns()) {
    if (c == v1::CONCERN_CATEGORY_UNSPECIFIED ||
        !v1::ConcernCategory_IsValid(c)) {
      problems.push_back(
          absl::StrCat("concerns: ", c, " is not a concern category"));
    }
  }
  if (r.record().record_case() == v1::Record::RECORD_NOT_SET) {
    problems.push_back("record is missing");
  }
  if (r.basis().basis_case() == v1::LegalBasis::BASIS_NOT_SET) {
    problems.push_back(
        "basis is missing: a consent_id, an override or a statutory_duty");
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the referral is malformed: ", absl::StrJoin(problems, "; ")));
}

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

grpc::ServerUnaryReactor* ExchangeService::SendReferral(
    grpc::CallbackServerContext* ctx, const v1::SendReferralRequest* request,
    v1::SendReferralResponse* response) {
  absl::StatusOr<v1::Principal> sender =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!sender.ok()) return FinishUnary(ctx, sender.status());
  if (absl::Status s = ValidateSendReferral(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }

  std::optional<v1::Agency> recipient;
  if (request->destination().has_agency_id()) {
    recipient = registry_->FindAgency(request->destination().agency_id());
    if (!recipient) {
      return FinishUnary(ctx,
                         absl::NotFoundError(absl::StrCat(
                             "no agency \"", request->destination().agency_id(),
                             "\" is registered; nothing was stored")));
    }
  } else {
    const auto& where = request->destination().sector_in_area();
    recipient = registry_->ResolveRoute(where.sector(), where.area());
    if (!recipient) {
      return FinishUnary(ctx, absl::NotFoundError(absl::StrCat(
                                  "the routing directory names no ",
                                  where.sector(), " agency for area \"",
                                  where.area(), "\"; nothing was stored")));
    }
  }
  if (sender->sector() == "health" && !request->has_checklist()) {
    return FinishUnary(
        ctx, absl::InvalidArgumentError(
                 "a referral from health needs the pre-sharing checklist: "
                 "concern verified, person informed (or why not), colleague "
                 "or expert consulted, manager approval, risk assessment "
                 "reference"));
  }
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

  const absl::Time now = clock_->Now();
  const v1::Professional professional = ProfessionalOf(ctx);
  policy::DisclosureQuery query;
  query.sender_agency_id = sender->id();
  query.sender_sector = sender->sector();
  query.sender_jurisdiction = sender->jurisdiction();
  query.recipient_agency_id = recipient->id();
  query.recipient_sector = recipient->sector();
  query.purpose = request->purpose();
  query.record_type = policy::RecordType(request->record());
  query.basis = request->basis();
  // The named recipient of a referral has a legitimate relationship.
  query.legitimate_relationship = true;
  query.at = now;
  // One set for the decision and the abstraction, even if a reload swaps
  // the set in force meanwhile.
  const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
  const policy::Decision decision = policy::Decide(*policy, query);
  const v1::AbstractedRecord abstracted = policy::Abstract(
      *policy, request->record(), decision,
      absl::ToCivilDay(now, absl::UTCTimeZone()), pseudonyms_->FieldHashKey());

  const std::string referral_id = NewId("ref-");
  const bool opens_case = request->case_id().empty();
  const std::string case_id = opens_case ? NewId("case-") : request->case_id();
  v1::LogEntry entry = DecisionEntry(
      *sender, professional, recipient->id(), *request, decision, abstracted,
      pseudonyms_->Pseudonym(request->subject().identifier()), referral_id,
      case_id, now);

  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!decision.allowed) {
    // Denials are logged too; if the log cannot take it, say so.
    const std::string why = entry.reason();
    store_->AppendLog(
        std::move(entry), [reactor, why](absl::StatusOr<uint64_t> seq) {
          reactor->Finish(ToGrpcStatus(
              seq.ok() ? absl::PermissionDeniedError(absl::StrCat(
                             "disclosure denied (log entry ", *seq, "): ", why))
                       : seq.status()));
        });
    return reactor;
  }

  NewReferral commit;
  commit.sender_agency_id = sender->id();
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
  referral.set_sender_agency_id(sender->id());
  referral.set_recipient_agency_id(recipient->id());
  referral.set_status(v1::REFERRAL_STATUS_SENT);
  referral.set_urgency(request->urgency());
  *referral.mutable_concerns() = request->concerns();
  referral.set_requested_action(request->requested_action());
  *referral.mutable_subject() = request->subject();
  *referral.mutable_record() = abstracted;
  v1::ReferralEvent* sent = referral.add_history();
  sent->set_status(v1::REFERRAL_STATUS_SENT);
  SetTime(sent->mutable_at(), now);
  sent->set_by_agency_id(sender->id());
  *sent->mutable_by() = professional;
  commit.delivery.set_message_id(NewId("msg-"));
  SetTime(commit.delivery.mutable_enqueued_at(), now);
  *commit.delivery.mutable_referral() = referral;
  commit.delivery.set_referral_id(referral_id);
  commit.disclosure = std::move(entry);
  commit.response.set_referral_id(referral_id);
  commit.response.set_case_id(case_id);
  commit.response.set_recipient_agency_id(recipient->id());
  commit.response.set_level(decision.level);
  commit.response.set_policy_version(decision.policy_version);

  store_->CommitReferral(
      std::move(commit),
      [reactor, response, waiters = waiters_,
       to = recipient->id()](absl::StatusOr<v1::SendReferralResponse> result) {
        if (!result.ok()) {
          reactor->Finish(ToGrpcStatus(result.status()));
          return;
        }
        *response = *std::move(result);
        reactor->Finish(grpc::Status::OK);
        waiters->Notify(to);
      });
  return reactor;
}

grpc::ServerWriteReactor<v1::InboxMessage>* ExchangeService::Receive(
    grpc::CallbackServerContext* ctx, const v1::ReceiveRequest* request) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
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
  return new InboxStream(caller->id(), lease, store_, waiters_, clock_);
}

grpc::ServerUnaryReactor* ExchangeService::Ack(grpc::CallbackServerContext* ctx,
                                               const v1::AckRequest* request,
                                               v1::AckResponse* /*response*/) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->message_id().empty()) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError("message_id is missing"));
  }
  const absl::Time now = clock_->Now();
  v1::LogEntry delivery;
  SetTime(delivery.mutable_time(), now);
  delivery.set_kind(v1::ENTRY_KIND_DELIVERY);
  delivery.set_actor(caller->uri());
  *delivery.mutable_professional() = ProfessionalOf(ctx);
  delivery.set_message_id(request->message_id());
  delivery.set_allowed(true);
  delivery.set_reason("delivered to and acknowledged by the recipient");
  v1::InboxMessage update;
  update.set_message_id(NewId("msg-"));
  SetTime(update.mutable_enqueued_at(), now);

  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->AckMessage(
      caller->id(), request->message_id(), now, std::move(delivery),
      std::move(update), now + options_.inbox_ttl,
      [reactor, waiters = waiters_](absl::StatusOr<std::string> told) {
        reactor->Finish(ToGrpcStatus(told.status()));
        if (told.ok() && !told->empty()) waiters->Notify(*told);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetReferral(
    grpc::CallbackServerContext* ctx, const v1::GetReferralRequest* request,
    v1::Referral* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetReferral(caller->id(), request->referral_id(),
                      [reactor, response](absl::StatusOr<v1::Referral> r) {
                        if (r.ok()) *response = *std::move(r);
                        reactor->Finish(ToGrpcStatus(r.status()));
                      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::UpdateReferral(
    grpc::CallbackServerContext* ctx, const v1::UpdateReferralRequest* request,
    v1::Referral* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->referral_id().empty()) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError("referral_id is missing"));
  }
  const absl::Time now = clock_->Now();
  ReferralChange change;
  change.agency_id = caller->id();
  change.referral_id = request->referral_id();
  change.event.set_status(request->status());
  SetTime(change.event.mutable_at(), now);
  change.event.set_by_agency_id(caller->id());
  *change.event.mutable_by() = ProfessionalOf(ctx);
  change.event.set_detail(request->detail());
  change.update.set_message_id(NewId("msg-"));
  SetTime(change.update.mutable_enqueued_at(), now);
  change.update_expires_at = now + options_.inbox_ttl;

  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->ChangeReferral(
      std::move(change),
      [reactor, response, waiters = waiters_](absl::StatusOr<v1::Referral> r) {
        if (r.ok()) *response = *r;
        reactor->Finish(ToGrpcStatus(r.status()));
        if (r.ok()) waiters->Notify(r->sender_agency_id());
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetCase(
    grpc::CallbackServerContext* ctx, const v1::GetCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetCase(caller->id(), request->case_id(),
                  [reactor, response](absl::StatusOr<v1::Case> c) {
                    if (c.ok()) *response = *std::move(c);
                    reactor->Finish(ToGrpcStatus(c.status()));
                  });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::HandOverCase(
    grpc::CallbackServerContext* ctx, const v1::HandOverCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (request->to_agency_id().empty() || request->note().empty() ||
      request->note().size() > 2000) {
    return FinishUnary(ctx, absl::InvalidArgumentError(
                                "a handover needs to_agency_id and a note of "
                                "1 to 2000 characters"));
  }
  v1::CaseHandover handover;
  handover.set_to_agency_id(request->to_agency_id());
  handover.set_note(request->note());
  *handover.mutable_by() = ProfessionalOf(ctx);
  SetTime(handover.mutable_at(), clock_->Now());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->HandOverCase(caller->id(), request->case_id(), std::move(handover),
                       [reactor, response](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) *response = *std::move(c);
                         reactor->Finish(ToGrpcStatus(c.status()));
                       });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::RecordManualDisclosure(
    grpc::CallbackServerContext* ctx,
    const v1::RecordManualDisclosureRequest* request,
    v1::RecordManualDisclosureResponse* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
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
    *e.mutable_justification() = r.basis().override();
    e.mutable_justification()->clear_statement();
  }
  e.set_purpose(r.purpose());
  e.set_allowed(true);
  e.set_reason(absl::StrCat(
      "disclosed outside the system at ",
      x509::Rfc3339(TimeOf(r.disclosed_at())),
      r.channel().empty() ? "" : absl::StrCat(" (", r.channel(), ")")));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->RecordManualDisclosure(
      std::move(disclosure),
      [reactor, response](absl::StatusOr<uint64_t> sequence) {
        if (sequence.ok()) response->set_log_sequence(*sequence);
        reactor->Finish(ToGrpcStatus(sequence.status()));
      });
  return reactor;
}

}  // namespace liaison
