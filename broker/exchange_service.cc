#include "broker/exchange_service.h"

#include <deque>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "broker/basics/time_format.h"
#include "broker/log/message_util.h"
#include "broker/notices.h"
#include "broker/referral_lifecycle.h"
#include "broker/request_shape.h"

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

// What a decision's log entry says besides the decision itself.
struct EntryFacts {
  // The calling agency and professional.
  const v1::Principal* actor = nullptr;
  v1::Professional professional;
  // The other agency: the recipient, or the holder asked.
  std::string counterpart;
  std::string subject_pseudonym;
  std::string case_id;
  // The referral, summary or request id.
  std::string message_id;
  std::string purpose;
  const v1::LegalBasis* basis = nullptr;
  // Empty when no record was involved.
  std::string record_type;
  // The sender's pre-sharing checklist, when the call carried one.
  const v1::PreSharingChecklist* checklist = nullptr;
  // How long auditors have to review it, should it be an override.
  absl::Duration review_within = absl::Hours(24 * 7);
  absl::Time now;
};

// The log entry for a decision. It holds no record content and no raw
// identifier (DESIGN.md rule 4): the subject by pseudonym, the
// justification without its statement, the payload by digest. An allowed
// disclosure under an override is an OVERRIDE entry, so it enters the
// auditors' review queue; `allowed_kind` replaces DISCLOSURE for entries
// that disclose nothing themselves (a summary request).
v1::LogEntry DecisionEntry(
    const EntryFacts& f, const policy::Decision& decision,
    const v1::AbstractedRecord* abstracted,
    v1::EntryKind allowed_kind = v1::ENTRY_KIND_DISCLOSURE) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), f.now);
  if (!decision.allowed) {
    e.set_kind(v1::ENTRY_KIND_DENIAL);
  } else if (allowed_kind == v1::ENTRY_KIND_DISCLOSURE &&
             f.basis->has_override()) {
    e.set_kind(v1::ENTRY_KIND_OVERRIDE);
  } else {
    e.set_kind(allowed_kind);
  }
  e.set_actor(f.actor->uri());
  *e.mutable_professional() = f.professional;
  e.set_counterpart(f.counterpart);
  e.set_subject_pseudonym(f.subject_pseudonym);
  e.set_case_id(f.case_id);
  e.set_message_id(f.message_id);
  e.set_record_type(f.record_type);
  e.set_level(decision.level);
  if (abstracted != nullptr) {
    for (const v1::FieldOutcome& o : abstracted->fields()) {
      if (o.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD) {
        e.add_fields_withheld(o.field());
      } else {
        e.add_fields_disclosed(o.field());
      }
    }
  }
  e.set_basis(BasisKindOf(*f.basis));
  if (f.basis->has_consent_id()) e.set_consent_id(f.basis->consent_id());
  if (f.basis->has_override()) {
    // The statement goes to the store with the entry, which seals it
    // beside the log; the log keeps its digest.
    *e.mutable_justification() =
        policy::NormalisedJustification(f.basis->override());
    e.set_statement_digest(Sha256Hex(f.basis->override().statement()));
  }
  if (e.kind() == v1::ENTRY_KIND_OVERRIDE) {
    SetTime(e.mutable_review_by(), f.now + f.review_within);
  }
  e.set_agreement_id(decision.agreement_id);
  e.set_policy_version(decision.policy_version);
  if (decision.allowed && abstracted != nullptr) {
    e.set_payload_digest(Sha256Hex(DeterministicBytes(*abstracted)));
  }
  e.set_allowed(decision.allowed);
  e.set_reason(absl::StrJoin(decision.reasons, "; "));
  e.set_purpose(f.purpose);
  if (f.checklist != nullptr) {
    for (std::string& step : policy::ConfirmedChecklistSteps(*f.checklist)) {
      e.add_checklist_attested(std::move(step));
    }
  }
  return e;
}

// Adds what the envelope of a delivered message kept and withheld to the
// decision's entry (as "referral.concerns", ...), and makes the payload
// digest that of the whole message delivered.
void NoteEnvelope(absl::string_view name, const v1::EnvelopeOutcome& envelope,
                  const google::protobuf::Message& delivered,
                  v1::LogEntry* e) {
  for (const v1::FieldOutcome& o : envelope.fields()) {
    const std::string field = absl::StrCat(name, ".", o.field());
    if (o.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD) {
      e->add_fields_withheld(field);
    } else {
      e->add_fields_disclosed(field);
    }
  }
  if (e->allowed()) e->set_payload_digest(Sha256Hex(DeterministicBytes(delivered)));
}

// The level an envelope shown outside a disclosure decision is reduced
// to; NONE (every content field withheld) when the set has no rules for it.
v1::Level ViewLevel(const policy::PolicySet& set, absl::string_view name) {
  const v1::EnvelopeRules* rules = set.FindEnvelopeRules(name);
  return rules == nullptr ? v1::LEVEL_NONE : rules->view_level();
}

// The question for the decision function: may `from` disclose to `to`?
// Each party is a registered agency (a v1::Agency, or the caller's
// v1::Principal).
template <typename From, typename To>
policy::DisclosureQuery QueryFor(const From& from, const To& to,
                                 const std::string& purpose,
                                 const v1::LegalBasis& basis,
                                 bool legitimate_relationship,
                                 std::string record_type, absl::Time now) {
  policy::DisclosureQuery q;
  q.sender_agency_id = from.id();
  q.sender_sector = from.sector();
  q.sender_jurisdiction = from.jurisdiction();
  q.recipient_agency_id = to.id();
  q.recipient_sector = to.sector();
  q.purpose = purpose;
  q.record_type = std::move(record_type);
  q.basis = basis;
  q.legitimate_relationship = legitimate_relationship;
  q.at = now;
  return q;
}

// Adds what the consent registry says to a query on a consent basis.
void AddConsentFacts(const ConsentFacts& facts, policy::DisclosureQuery* q) {
  if (facts.consent.has_value()) {
    q->consent = facts.consent->consent;
    q->consent_subject_pseudonym = facts.consent->subject_pseudonym;
  }
  q->refusals = facts.refusals;
}

// The override alerts for an allowed disclosure under an override: one for
// the agency whose data left, naming the messages delivered.
void AddOverrideAlert(const Registry& registry, const v1::LogEntry& entry,
                      const std::string& source_agency_id,
                      const std::string& recipient_agency_id,
                      const std::vector<std::string>& message_ids,
                      const std::string& referral_id, absl::Time now,
                      std::vector<QueuedNotice>* notices) {
  if (entry.kind() != v1::ENTRY_KIND_OVERRIDE || !entry.allowed()) return;
  v1::Agency source;
  if (std::optional<v1::Agency> found = registry.FindAgency(source_agency_id)) {
    source = *std::move(found);
  } else {
    source.set_id(source_agency_id);
  }
  notices->push_back(
      {source_agency_id,
       OverrideAlertNotice(source, recipient_agency_id, entry.justification(),
                           message_ids, referral_id, now)});
}

void CheckKey(const std::string& key, std::vector<std::string>* problems) {
  if (key.empty() || key.size() > 128) {
    problems->push_back("idempotency_key must be 1 to 128 characters");
  }
}

void CheckSubject(const v1::Subject& subject, absl::string_view where,
                  std::vector<std::string>* problems) {
  if (subject.identifier().empty()) {
    problems->push_back(absl::StrCat(where, ".identifier is missing"));
  }
  if (!subject.birth_date().empty() && !IsDate(subject.birth_date())) {
    problems->push_back(absl::StrCat(where, ".birth_date \"",
                                     Bounded(subject.birth_date()),
                                     "\" is not a date YYYY-MM-DD"));
  }
}

// The record's own subject; a record names the person it is about.
void CheckRecord(const v1::Record& record, std::vector<std::string>* problems) {
  const v1::Subject* subject = policy::RecordSubject(record);
  if (subject == nullptr) {
    problems->push_back("record is missing");
  } else {
    CheckSubject(
        *subject,
        absl::StrCat("record.", policy::RecordType(record), ".subject"),
        problems);
  }
}

void CheckBasis(const v1::LegalBasis& basis,
                std::vector<std::string>* problems) {
  if (basis.basis_case() == v1::LegalBasis::BASIS_NOT_SET) {
    problems->push_back(
        "basis is missing: a consent_id, an override or a statutory_duty");
  }
}

absl::Status Malformed(absl::string_view what,
                       const std::vector<std::string>& problems) {
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the ", what, " is malformed: ", absl::StrJoin(problems, "; ")));
}

// A store completion that answers the call with the committed response,
// then wakes the inbox streams of the agencies in `notify`.
template <typename Response>
StoreDone<Response> AnswerThenNotify(grpc::ServerUnaryReactor* reactor,
                                     Response* response, InboxWaiters* waiters,
                                     std::vector<std::string> notify) {
  return [reactor, response, waiters,
          notify = std::move(notify)](absl::StatusOr<Response> result) {
    if (!result.ok()) {
      reactor->Finish(ToGrpcStatus(result.status()));
      return;
    }
    *response = *std::move(result);
    reactor->Finish(grpc::Status::OK);
    for (const std::string& agency : notify) waiters->Notify(agency);
  };
}

// Appends a denial's entry and finishes the call with PERMISSION_DENIED
// naming the entry and the reason; if the log cannot take the entry, says
// that instead.
void FinishDenied(Store* store, grpc::ServerUnaryReactor* reactor,
                  v1::LogEntry entry) {
  const std::string why = entry.reason();
  store->AppendLog(
      std::move(entry), [reactor, why](absl::StatusOr<uint64_t> seq) {
        reactor->Finish(ToGrpcStatus(
            seq.ok() ? absl::PermissionDeniedError(absl::StrCat(
                           "disclosure denied (log entry ", *seq, "): ", why))
                     : seq.status()));
      });
}

// Streams one agency's inbox: leases pending messages from the store,
// writes them one at a time, and when none is left waits to be woken by a
// new message or the end of a lease. At most one store call or write is
// outstanding, and Finish comes only when neither is, so the reactor is
// deleted only when nothing refers to it. gRPC and store calls are made
// outside the lock because either may call back on the same thread.
class InboxStream final : public grpc::ServerWriteReactor<v1::InboxMessage> {
 public:
  // `principal` is the agency as Receive authorised it. `egress` finishes
  // each leased message for the recipient before it is written.
  InboxStream(grpc::CallbackServerContext* ctx, const v1::Principal& principal,
              absl::Duration lease, const Authenticator* auth, Store* store,
              InboxWaiters* waiters, const Clock* clock,
              std::function<void(v1::InboxMessage*)> egress)
      : ctx_(ctx),
        agency_id_(principal.id()),
        serial_(principal.certificate_serial()),
        not_after_(
            absl::FromUnixSeconds(principal.certificate_not_after().seconds())),
        lease_(lease),
        store_(store),
        waiters_(waiters),
        clock_(clock),
        egress_(std::move(egress)),
        waker_(std::make_shared<Waker>(this)) {
    waiters_->Add(agency_id_, serial_, waker_);
    // A registry or CRL change between the authorisation and Add did not
    // see this stream: check again now that it is registered.
    absl::Status still = auth->Recheck(agency_id_, serial_);
    // Woken when the certificate expires, to end the stream then.
    waiters_->WakeAt(waker_, absl::Now() + (not_after_ - clock_->Now()));
    Step step;
    {
      absl::MutexLock lock(&mu_);
      if (!still.ok()) finish_ = ToGrpcStatus(still);
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
    void Close(const absl::Status& why) override {
      absl::MutexLock lock(&mu_);
      if (stream_ != nullptr) stream_->Close(why);
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

  // Ends the stream with `why` as soon as no write or fetch is outstanding;
  // messages leased but not written are delivered again after the lease.
  void Close(const absl::Status& why) {
    Step step;
    bool stalled = false;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_) finish_ = ToGrpcStatus(why);
      // A write the client does not read would hold the stream open.
      stalled = writing_;
      step = NextLocked();
    }
    if (stalled) ctx_->TryCancel();
    Run(step);
  }

  // Decides what to do after any event: write, fetch, finish or wait.
  Step NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Step step;
    if (fetching_ || writing_ || finished_) return step;
    if (!finish_ && clock_->Now() >= not_after_) {
      finish_ =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                       absl::StrCat("certificate serial ", serial_,
                                    " expired on ", Rfc3339(not_after_),
                                    "; ask your administrator to renew it"));
    }
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
                egress_(&m);
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

  grpc::CallbackServerContext* const ctx_;
  const std::string agency_id_;
  const std::string serial_;
  const absl::Time not_after_;
  const absl::Duration lease_;
  Store* const store_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const std::function<void(v1::InboxMessage*)> egress_;
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

namespace {

void CheckDestination(const v1::Destination& d, absl::string_view where,
                      std::vector<std::string>* problems) {
  switch (d.target_case()) {
    case v1::Destination::kAgencyId:
      if (d.agency_id().empty()) {
        problems->push_back(absl::StrCat(where, ".agency_id is empty"));
      }
      break;
    case v1::Destination::kSectorInArea:
      if (d.sector_in_area().sector().empty() ||
          d.sector_in_area().area().empty()) {
        problems->push_back(
            absl::StrCat(where, ".sector_in_area needs both sector and area"));
      }
      break;
    case v1::Destination::TARGET_NOT_SET:
      problems->push_back(absl::StrCat(
          where, " is missing: give an agency_id or a sector_in_area"));
      break;
  }
}

}  // namespace

absl::Status ValidateSendReferral(const v1::SendReferralRequest& r) {
  std::vector<std::string> problems;
  CheckKey(r.idempotency_key(), &problems);
  CheckDestination(r.destination(), "destination", &problems);
  CheckSubject(r.subject(), "subject", &problems);
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
  CheckBasis(r.basis(), &problems);
  return Malformed("referral", problems);
}

absl::Status ValidatePushSummary(const v1::PushSummaryRequest& r) {
  std::vector<std::string> problems;
  CheckKey(r.idempotency_key(), &problems);
  if (r.case_id().empty()) problems.push_back("case_id is missing");
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  CheckRecord(r.record(), &problems);
  CheckBasis(r.basis(), &problems);
  return Malformed("summary", problems);
}

absl::Status ValidateRequestSummary(const v1::RequestSummaryRequest& r) {
  std::vector<std::string> problems;
  CheckKey(r.idempotency_key(), &problems);
  CheckDestination(r.holder(), "holder", &problems);
  CheckSubject(r.subject(), "subject", &problems);
  if (r.purpose().empty()) problems.push_back("purpose is missing");
  CheckBasis(r.basis(), &problems);
  return Malformed("summary request", problems);
}

absl::Status ValidateAnswerSummaryRequest(
    const v1::AnswerSummaryRequestRequest& r) {
  std::vector<std::string> problems;
  if (r.request_id().empty()) problems.push_back("request_id is missing");
  CheckRecord(r.record(), &problems);
  if (r.has_basis()) CheckBasis(r.basis(), &problems);
  return Malformed("answer", problems);
}

namespace {

void CheckParties(const google::protobuf::RepeatedPtrField<v1::Party>& parties,
                  absl::string_view where, const policy::PolicySet& policy,
                  const Registry& registry,
                  std::vector<std::string>* problems) {
  if (parties.empty()) {
    problems->push_back(absl::StrCat(
        where, ": name at least one sector, agency or public_authorities"));
  }
  for (int i = 0; i < parties.size(); ++i) {
    const v1::Party& p = parties[i];
    switch (p.party_case()) {
      case v1::Party::kSector:
        if (policy.FindSector(p.sector()) == nullptr) {
          problems->push_back(absl::StrCat(where, "[", i, "]: sector \"",
                                           p.sector(),
                                           "\" is not in the policy set"));
        }
        break;
      case v1::Party::kAgencyId:
        if (p.agency_id().empty()) {
          problems->push_back(
              absl::StrCat(where, "[", i, "]: agency_id is empty"));
        } else if (!registry.FindAgency(p.agency_id())) {
          problems->push_back(absl::StrCat(where, "[", i, "]: agency \"",
                                           p.agency_id(),
                                           "\" is not registered"));
        }
        break;
      case v1::Party::kPublicAuthorities:
        if (!p.public_authorities()) {
          problems->push_back(absl::StrCat(
              where, "[", i, "]: public_authorities must be true when set"));
        }
        break;
      case v1::Party::PARTY_NOT_SET:
        problems->push_back(absl::StrCat(where, "[", i,
                                         "]: set one of sector, agency_id, "
                                         "public_authorities"));
        break;
    }
  }
}

}  // namespace

absl::Status ValidateConsent(const v1::Consent& c,
                             const policy::PolicySet& policy,
                             const Registry& registry) {
  std::vector<std::string> problems;
  if (c.grantor() == v1::GRANTOR_UNSPECIFIED ||
      !v1::Grantor_IsValid(c.grantor())) {
    problems.push_back(
        "grantor is missing: GRANTOR_SUBJECT, GRANTOR_GUARDIAN or "
        "GRANTOR_LEGAL_REPRESENTATIVE");
  } else if (c.grantor() != v1::GRANTOR_SUBJECT &&
             c.grantor_relation().empty()) {
    problems.push_back(
        "grantor_relation is missing: a guardian or representative says "
        "how they are related to the subject, e.g. \"mother\"");
  }
  CheckSubject(c.subject(), "subject", &problems);
  if (c.grantor() == v1::GRANTOR_GUARDIAN && c.subject().birth_date().empty()) {
    problems.push_back(
        "subject.birth_date is missing: a guardian's consent lapses at the "
        "age of majority, so the broker needs the birth date");
  }
  CheckParties(c.disclosing(), "disclosing", policy, registry, &problems);
  CheckParties(c.recipients(), "recipients", policy, registry, &problems);
  if (c.purposes().empty()) {
    problems.push_back("purposes: name at least one, as agreements name them");
  }
  for (const std::string& purpose : c.purposes()) {
    if (purpose.empty()) problems.push_back("purposes: a purpose is empty");
  }
  if (!c.refused() &&
      (c.max_level() == v1::LEVEL_NONE || !v1::Level_IsValid(c.max_level()))) {
    problems.push_back(
        "max_level is missing: LEVEL_SIGNAL, LEVEL_CATEGORY, LEVEL_SUMMARY or "
        "LEVEL_FULL");
  }
  if (c.has_valid_from() && c.has_valid_until() &&
      TimeOf(c.valid_until()) <= TimeOf(c.valid_from())) {
    problems.push_back("valid_until must be after valid_from");
  }
  if (!c.has_evidence() || c.evidence().form_reference().empty() ||
      c.evidence().form_version().empty() || c.evidence().language().empty()) {
    problems.push_back(
        "evidence is incomplete: give form_reference, form_version and "
        "language");
  }
  return Malformed("consent", problems);
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
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
        facts.review_within = policy::OverrideReviewWindow(*decided.policy,
                                                   sender.jurisdiction());
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

grpc::ServerWriteReactor<v1::InboxMessage>* ExchangeService::Receive(
    grpc::CallbackServerContext* ctx, const v1::ReceiveRequest* request) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) {
    return new RefusedStream<v1::InboxMessage>(caller.status());
  }
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return new RefusedStream<v1::InboxMessage>(s);
  }
  absl::Duration lease = request->lease_seconds() == 0
                             ? options_.default_lease
                             : absl::Seconds(request->lease_seconds());
  if (lease > options_.max_lease) {
    return new RefusedStream<v1::InboxMessage>(absl::InvalidArgumentError(
        absl::StrCat("lease_seconds may be at most ",
                     absl::ToInt64Seconds(options_.max_lease))));
  }
  // Notices are written by the broker's sweeper and store, which hold no
  // policy; they are reduced here, on their way out.
  auto egress = [this](v1::InboxMessage* m) {
    if (!m->has_notice()) return;
    const std::shared_ptr<const policy::PolicySet> policy = policy_->Get();
    Envelope(*policy, "notice", ViewLevel(*policy, "notice"),
             m->mutable_notice(), clock_->Now());
  };
  return new InboxStream(ctx, *caller, lease, auth_, store_, waiters_, clock_,
                         std::move(egress));
}

grpc::ServerUnaryReactor* ExchangeService::Ack(grpc::CallbackServerContext* ctx,
                                               const v1::AckRequest* request,
                                               v1::AckResponse* /*response*/) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetReferral(
      caller->id(), request->referral_id(),
      [this, reactor, response,
       caller = caller->id()](absl::StatusOr<v1::Referral> r) {
        if (r.ok()) {
          // The sender sees the recipient's changes only as fed back.
          if (r->sender_agency_id() == caller) {
            const std::shared_ptr<const policy::PolicySet> policy =
                policy_->Get();
            *response = SenderView(*r, [&](const v1::ReferralEvent& e) {
              return ToldToSender(*policy, e, e.feedback_level());
            });
          } else {
            *response = *std::move(r);
          }
        }
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
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
                change.sender_event = ToldToSender(
                    *decided.policy, change.event, decision.level);
                NoteEnvelope("referral_update",
                             change.sender_event.envelope(),
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

grpc::ServerUnaryReactor* ExchangeService::GetCase(
    grpc::CallbackServerContext* ctx, const v1::GetCaseRequest* request,
    v1::Case* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetCase(caller->id(), request->case_id(),
                  [this, reactor, response](absl::StatusOr<v1::Case> c) {
                    if (c.ok()) *response = CaseAsSeen(*std::move(c));
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
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
                       [this, reactor, response](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) *response = CaseAsSeen(*std::move(c));
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
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
      "disclosed outside the system at ",
      Rfc3339(TimeOf(r.disclosed_at())),
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

v1::ReferralEvent ExchangeService::ToldToSender(
    const policy::PolicySet& policy, const v1::ReferralEvent& event,
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

grpc::ServerUnaryReactor* ExchangeService::PushSummary(
    grpc::CallbackServerContext* ctx, const v1::PushSummaryRequest* request,
    v1::PushSummaryResponse* response) {
  absl::StatusOr<v1::Principal> sender =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!sender.ok()) return FinishUnary(ctx, sender.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
    if (attached.agency_id() == sender.id()) continue;
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
  absl::StatusOr<v1::Principal> requester =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!requester.ok()) return FinishUnary(ctx, requester.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
  absl::StatusOr<v1::Principal> holder =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!holder.ok()) return FinishUnary(ctx, holder.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
        if (stored->answered) {
          reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError(
              absl::StrCat("summary request ", asked.request_id(),
                           " was already answered; a request is answered "
                           "once"))));
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
  policy::DisclosureQuery query =
      QueryFor(holder, *requester, asked.purpose(), basis,
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
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
  if (request->consent_id().empty()) {
    return FinishUnary(ctx,
                       absl::InvalidArgumentError("consent_id is missing"));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_->GetConsent(
      request->consent_id(),
      [this, reactor, response, caller = *caller,
       id = request->consent_id()](absl::StatusOr<StoredConsent> stored) {
        if (stored.ok() && !MaySee(caller, stored->consent)) {
          // Indistinguishable from an id that does not exist.
          stored = absl::NotFoundError(
              absl::StrCat("no consent \"", id, "\" that your agency may see"));
        }
        if (stored.ok()) *response = ConsentAsSeenBy(caller, stored->consent);
        reactor->Finish(ToGrpcStatus(stored.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::WithdrawConsent(
    grpc::CallbackServerContext* ctx, const v1::WithdrawConsentRequest* request,
    v1::Consent* response) {
  absl::StatusOr<v1::Principal> caller =
      auth_->Authorize(*ctx->auth_context(), kAllowed, kServiceName);
  if (!caller.ok()) return FinishUnary(ctx, caller.status());
  if (absl::Status s = CheckRequestShape(*request); !s.ok()) {
    return FinishUnary(ctx, s);
  }
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
            std::move(w), [this, reactor, response, caller,
                           waiters = waiters_](
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
