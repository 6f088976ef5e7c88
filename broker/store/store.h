// The broker's durable state behind one interface (DESIGN.md section 7), so
// services never see SQL and a PostgreSQL backend can sit beside SQLite.
//
// Every change is reported only after its commit is durable. The message
// path's operations are asynchronous: `done` runs once, on the store's own
// thread, after the commit (or with the error that prevented it), so a gRPC
// reactor can finish from it without ever blocking on the disk. `done` must
// not block.
#ifndef LIAISON_BROKER_STORE_STORE_H_
#define LIAISON_BROKER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "liaison/v1/admin.pb.h"
#include "liaison/v1/audit.pb.h"
#include "liaison/v1/exchange.pb.h"
#include "liaison/v1/log.pb.h"

namespace liaison {

template <typename T>
using StoreDone = std::function<void(absl::StatusOr<T>)>;

// A broker notice (an override alert, say) queued in the same commit as
// the disclosure it is about.
struct QueuedNotice {
  std::string agency_id;
  v1::InboxMessage message;
};

// A case's manager closing it, or an agency being detached from it, with
// the CASE_CLOSED or CASE_DETACHED entry that records it; one commit.
struct CaseChange {
  // The agency making the change.
  std::string agency_id;
  std::string case_id;
  // Set to close the case.
  v1::CaseOutcome outcome = v1::CASE_OUTCOME_UNSPECIFIED;
  // Set, with detach_reason, to detach that agency.
  std::string detach_agency_id;
  v1::DetachReason detach_reason = v1::DETACH_REASON_UNSPECIFIED;
  absl::Time at;
  // The backend sets its subject_pseudonym from the case.
  v1::LogEntry entry;
};

// The kinds of content the broker holds and purges when their retention
// ends (policy.proto, Retention), in the order PurgeCounts keeps them.
enum class HeldKind {
  kInboxMessage,
  kSummary,
  kReferral,
  kSummaryRequest,
  kConsentEvidence,
  kOverrideStatement,
};
inline constexpr int kHeldKinds = 6;

// For each kind, the latest time its clock may have started for the
// content to be purged now (now minus its retention).
struct PurgeCutoffs {
  absl::Time at[kHeldKinds];
  absl::Time& operator[](HeldKind k) { return at[static_cast<int>(k)]; }
  absl::Time operator[](HeldKind k) const { return at[static_cast<int>(k)]; }
};

// One purge: the content held for each agency (by the agency whose
// jurisdiction times it: retention.h) whose cutoff has passed, at most
// `max` items of each kind.
struct PurgeRequest {
  std::map<std::string, PurgeCutoffs> by_agency;
  int max = 500;
  // The start of the PURGE entry (time, actor); the backend adds the
  // counts and appends it in the purge's commit when anything was purged.
  v1::LogEntry entry;
};

// How many items of each kind one purge removed.
struct PurgeCounts {
  int64_t n[kHeldKinds] = {};
  int64_t& operator[](HeldKind k) { return n[static_cast<int>(k)]; }
  int64_t operator[](HeldKind k) const { return n[static_cast<int>(k)]; }
};

// An administrator's change to the registry and the ADMIN entry that
// records it, made durable in one commit: both or neither. Each set field
// is applied in the order below.
struct RegistryChange {
  // Inserted, or replaced with every field including its bindings.
  std::optional<v1::Agency> agency;
  // The agency must not exist yet: ALREADY_EXISTS, and nothing changes,
  // when it does.
  bool agency_is_new = false;
  // Inserted or replaced; NOT_FOUND when it names an unregistered agency.
  std::optional<v1::Route> route;
  // (sector, area) removed; NOT_FOUND when there is no such entry.
  std::optional<v1::Route> removed_route;
  v1::LogEntry entry;
};

// A client certificate the broker has seen, for expiry reports.
struct SeenCertificate {
  // Upper-case hex.
  std::string serial;
  // The certificate's principal URI.
  std::string subject;
  absl::Time not_after;
  absl::Time last_seen;
};

// A referral the broker decided to let through, with everything that must
// become durable in the same commit: the referral, its case, the
// recipient's inbox message and the disclosure's log entry.
struct NewReferral {
  std::string sender_agency_id;
  // Idempotency: a second commit with the same sender and key and the same
  // digest returns the first response and writes nothing; another digest is
  // ALREADY_EXISTS.
  std::string idempotency_key;
  std::string request_digest;
  // Ids, parties, status SENT, the abstracted record and the first event.
  v1::Referral referral;
  // True when the referral opens referral.case_id; false when it joins an
  // existing case, which must exist with the sender attached (else
  // NOT_FOUND).
  bool opens_case = false;
  v1::InboxMessage delivery;
  // Its sequence number is assigned by the store.
  v1::LogEntry disclosure;
  absl::Time expires_at;
  // When the recipient must have acknowledged it; InfiniteFuture for none.
  absl::Time acknowledge_by = absl::InfiniteFuture();
  // Returned to the sender; log_sequence is filled in by the store.
  v1::SendReferralResponse response;
  // Queued with the referral, e.g. the override alert for the sender.
  std::vector<QueuedNotice> notices;
};

// A disclosure an agency made outside the system, recorded so the log
// stays complete.
struct ManualDisclosure {
  std::string agency_id;
  // Idempotency as for NewReferral.
  std::string idempotency_key;
  std::string request_digest;
  // Must be a case the agency is attached to (else NOT_FOUND); empty for
  // none.
  std::string case_id;
  // The MANUAL_DISCLOSURE entry; its sequence is assigned by the store.
  v1::LogEntry entry;
};

// A summary pushed to the agencies attached to a case, decided for each
// of them: one commit holds a log entry per agency (DISCLOSURE or DENIAL)
// and an inbox message for each agency the policy lets it reach.
struct SummaryPush {
  std::string sender_agency_id;
  // Idempotency as for NewReferral.
  std::string idempotency_key;
  std::string request_digest;
  // The sender must still be attached (else NOT_FOUND), and the case must
  // be about the record's subject (else INVALID_ARGUMENT).
  std::string case_id;
  std::string subject_pseudonym;
  struct Outcome {
    // The recipient agency.
    std::string agency_id;
    // Its sequence is assigned by the store.
    v1::LogEntry entry;
    // Set when the disclosure was allowed.
    std::optional<v1::InboxMessage> delivery;
  };
  std::vector<Outcome> outcomes;
  absl::Time expires_at;
  v1::PushSummaryResponse response;
  std::vector<QueuedNotice> notices;
};

// A summary request the broker allowed: stored, logged and put in the
// holder's inbox in one commit.
struct NewSummaryRequest {
  std::string requester_agency_id;
  // Idempotency as for NewReferral.
  std::string idempotency_key;
  std::string request_digest;
  std::string holder_agency_id;
  // The case the request belongs to, which must be about the subject (else
  // INVALID_ARGUMENT); empty for none.
  std::string case_id;
  std::string subject_pseudonym;
  // Whether the requester had a legitimate relationship to the subject
  // when it asked; the answer is decided with the same fact.
  bool legitimate_relationship = false;
  // The request as asked, kept to decide the answer with; its request_id
  // is the stored request's id.
  v1::SummaryRequestReceived request;
  // The holder's inbox message, with the request as the holder may see it.
  v1::InboxMessage delivery;
  // Its sequence is assigned by the store.
  v1::LogEntry entry;
  absl::Time expires_at;
  v1::RequestSummaryResponse response;
};

// A stored summary request, as its holder answers it.
struct StoredSummaryRequest {
  v1::SummaryRequestReceived request;
  std::string holder_agency_id;
  std::string case_id;
  bool legitimate_relationship = false;
  bool answered = false;
  // When the request's case was closed (microseconds; 0 while open or
  // without a case), and with what CaseOutcome.
  int64_t case_closed_at = 0;
  int64_t case_outcome = 0;
};

// The holder's answer to a summary request, decided and abstracted.
struct SummaryAnswer {
  std::string holder_agency_id;
  std::string request_id;
  // For the requester's inbox.
  v1::InboxMessage delivery;
  std::string requester_agency_id;
  // The DISCLOSURE entry; its sequence is assigned by the store.
  v1::LogEntry entry;
  absl::Time expires_at;
  std::vector<QueuedNotice> notices;
};

// A consent or refusal to record, with its log entry, in one commit.
struct NewConsent {
  std::string agency_id;
  // Idempotency as for NewReferral when not empty.
  std::string idempotency_key;
  std::string request_digest;
  // With consent_id and recorded_by_agency_id set.
  v1::Consent consent;
  std::string subject_pseudonym;
  // CONSENT_RECORDED or CONSENT_REFUSED; its sequence is assigned.
  v1::LogEntry entry;
};

// A consent as the registry holds it.
struct StoredConsent {
  v1::Consent consent;
  std::string subject_pseudonym;
};

// What a decision on a consent basis needs from the registry.
struct ConsentFacts {
  // The consent asked for; nullopt when no consent has that id.
  std::optional<StoredConsent> consent;
  // Every refusal recorded for the subject, withdrawn ones included.
  std::vector<v1::Consent> refusals;
};

// The withdrawal of a consent (or the end of a refusal).
struct ConsentWithdrawal {
  std::string consent_id;
  absl::Time at;
  std::string reason;
  // The CONSENT_WITHDRAWN entry; the store appends one more per agency
  // recalled from, naming the recall notice.
  v1::LogEntry entry;
  absl::Time notice_expires_at;
};

struct WithdrawnConsent {
  v1::Consent consent;
  // Agencies sent a recall notice; empty when it was withdrawn already.
  std::vector<std::string> recalled;
};

// Messages leased from an inbox by one Receive pass.
struct InboxLease {
  std::vector<v1::InboxMessage> messages;
  // When the earliest lease still running for this inbox ends, so the
  // stream knows when to look again; InfiniteFuture when none runs.
  absl::Time next_lease_end = absl::InfiniteFuture();
};

// A status change made by the recipient of a referral.
struct ReferralChange {
  std::string agency_id;  // the caller; must be the recipient
  std::string referral_id;
  // The change as the recipient's history keeps it.
  v1::ReferralEvent event;
  // The feedback decision's entry (DISCLOSURE or DENIAL), appended with
  // the change; its sequence is assigned by the store.
  v1::LogEntry feedback;
  // Set when the sender may be told: its inbox message, whose body the
  // store sets to `sender_event`, the change at the feedback's level.
  std::optional<v1::InboxMessage> update;
  v1::ReferralEvent sender_event;
  absl::Time update_expires_at;
};

// The sender taking back a referral (Exchange.RecallReferral).
struct ReferralTakeBack {
  std::string agency_id;  // the caller; must be the sender
  std::string referral_id;
  v1::RecallReason reason = v1::RECALL_REASON_UNSPECIFIED;
  v1::Professional by;
  absl::Time at;
  // The entry as the service started it (time, actor, professional); the
  // backend has StoreRules::PlanTakeBack finish it.
  v1::LogEntry entry;
  absl::Time notice_expires_at;
};

// What RecallReferral did: the referral as its sender now sees it in the
// store, and the agency sent a recall notice ("" for none).
struct TakenBack {
  v1::Referral referral;
  std::string notified_agency_id;
};

// Selects disclosure-log entries for auditors. Every part that is set must
// match.
struct LogQuery {
  // Entries from this sequence on.
  uint64_t first_sequence = 0;
  // Entries below this sequence only: a signed head's size, so a reader
  // never sees entries no head commits to yet.
  uint64_t below = std::numeric_limits<uint64_t>::max();
  // Most entries to return.
  int limit = 100;
  // Entries about this subject only; empty for any.
  std::string subject_pseudonym;
  // Each list must contain the entry's acting agency or its counterpart:
  // one list for the auditor's scope, one for a filter on agency or sector.
  // An empty list matches nothing.
  std::vector<std::vector<std::string>> agency_sets;
  // Any of these; empty for any.
  std::vector<v1::EntryKind> kinds;
  std::vector<v1::BasisKind> bases;
  // Only allowed (true) or denied (false) decisions.
  std::optional<bool> allowed;
  absl::Time from = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
  // Attach each entry's inclusion proof in the tree of `proof_size`
  // entries, which must be at least `below`.
  bool with_proofs = false;
  uint64_t proof_size = 0;
};

// One stored entry: its exact leaf bytes and, parsed, the entry.
struct LoggedEntry {
  std::string leaf;
  v1::LogEntry entry;
  // The audit path, when the query asked for proofs.
  std::vector<std::string> proof;
};

struct LogPage {
  std::vector<LoggedEntry> entries;
  // True when more entries may match after the last one returned.
  bool more = false;
};

// An auditor's review of an OVERRIDE entry.
struct OverrideReviewChange {
  uint64_t override_sequence = 0;
  v1::OverrideReview::Outcome outcome = v1::OverrideReview::OUTCOME_PENDING;
  std::string comment;
  // Agencies the reviewer may see, the entry must involve one of them;
  // nullopt for the whole deployment.
  std::optional<std::vector<std::string>> scope;
  // The OVERRIDE_REVIEWED entry to append; its sequence is assigned.
  v1::LogEntry entry;
};

// The rules a backend applies inside its commits: the moves the referral
// lifecycle allows, the broker's own notices and what a consent recall
// logs. The store persists; the broker decides. The broker implements these
// once (broker/domain_rules.h) and every backend calls the same ones, so no
// backend writes them again. Implementations are pure and thread-safe.
class StoreRules {
 public:
  virtual ~StoreRules() = default;

  // Applies the recipient's change `event` to `referral` when the
  // lifecycle allows it; otherwise an error for the caller, and `referral`
  // is unchanged.
  virtual absl::Status ApplyRecipientChange(const v1::ReferralEvent& event,
                                            v1::Referral* referral) const = 0;
  // Applies the recipient agency `agency_id`'s first acknowledgement of
  // `referral`'s message at `now`. Returns the event to tell the sender, or
  // nullopt when the acknowledgement does not move the referral.
  virtual std::optional<v1::ReferralEvent> ApplyDelivery(
      const std::string& agency_id, absl::Time now,
      v1::Referral* referral) const = 0;

  // For the sender of `message_id`, which `recipient_agency_id` did not
  // acknowledge before it expired.
  virtual v1::InboxMessage NonDeliveryNotice(
      const std::string& message_id, const std::string& referral_id,
      const std::string& recipient_agency_id, absl::Time now) const = 0;
  // For the sender and the case manager of an urgent referral not
  // acknowledged by `deadline`.
  virtual v1::InboxMessage EscalationNotice(const v1::Referral& referral,
                                            absl::Time deadline,
                                            absl::Time now) const = 0;
  // For the agency whose data left under the override logged at
  // `sequence`, which auditors did not review by `review_by`.
  virtual v1::InboxMessage OverdueReviewNotice(uint64_t sequence,
                                               absl::Time review_by,
                                               absl::Time now) const = 0;

  // What the withdrawal of `consent` at `at` sends and logs, given the
  // messages each agency received under it (agency id, message ids; in
  // order): `withdrawal` is the CONSENT_WITHDRAWN entry as the caller
  // built it.
  struct Recall {
    std::string agency_id;
    v1::InboxMessage notice;
    v1::LogEntry entry;
  };
  struct RecallPlan {
    // The withdrawal's entry, naming the agencies recalled from.
    v1::LogEntry withdrawal;
    std::vector<Recall> recalls;
  };
  virtual RecallPlan PlanRecalls(
      const v1::Consent& consent, const v1::LogEntry& withdrawal,
      const std::vector<std::pair<std::string, std::vector<std::string>>>&
          uses_by_agency,
      absl::Time at) const = 0;

  // What the sender's take-back of `referral` does, given whether its
  // inbox message `message_id` was acknowledged by the recipient's system
  // and whether that system was ever shown it. nullopt when the referral
  // was taken back already (the backend returns it unchanged).
  struct TakeBackPlan {
    // The WITHDRAWN or RECALLED event, applied to `referral` already.
    v1::ReferralEvent event;
    // REFERRAL_WITHDRAWN or REFERRAL_RECALLED, finished but for the purge
    // counts, which the backend adds.
    v1::LogEntry entry;
    // For the recipient; unset when it never saw the referral.
    std::optional<v1::InboxMessage> notice;
  };
  virtual std::optional<TakeBackPlan> PlanTakeBack(
      const ReferralTakeBack& request, const std::string& subject_pseudonym,
      const std::string& message_id, bool acknowledged, bool shown,
      v1::Referral* referral) const = 0;

  // A request under an idempotency key `key` its agency used before, for
  // a request whose digest was `stored_digest`: OK when `digest` is the
  // same (the backend answers with the first response and writes
  // nothing); otherwise the error for the caller. `what` names the kind of
  // request ("referral").
  virtual absl::Status CheckRetry(absl::string_view key,
                                  absl::string_view stored_digest,
                                  absl::string_view digest,
                                  absl::string_view what) const = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The schema version the store is at after its migrations ran.
  virtual int SchemaVersion() const = 0;

  // Registry of agencies. UpsertAgency inserts or replaces every field of
  // the agency, including its certificate bindings. Agency ids are unique
  // across sectors.
  virtual absl::Status UpsertAgency(const v1::Agency& agency) = 0;
  // NOT_FOUND when no agency has that id.
  virtual absl::Status SetAgencyStatus(const std::string& agency_id,
                                       v1::AgencyStatus status,
                                       const std::string& reason) = 0;
  virtual absl::StatusOr<std::vector<v1::Agency>> ListAgencies() = 0;

  // Registry of auditors, inserted or replaced by id.
  virtual absl::Status UpsertAuditor(const v1::Auditor& auditor) = 0;
  virtual absl::StatusOr<std::vector<v1::Auditor>> ListAuditors() = 0;

  // The routing directory: one agency per (sector, area).
  virtual absl::Status UpsertRoute(const v1::Route& route) = 0;
  virtual absl::StatusOr<std::vector<v1::Route>> ListRoutes() = 0;

  // Applies `change` and appends its entry in one commit; returns the
  // entry's sequence. On any error nothing changed. Asynchronous like the
  // message path, since administrators' calls arrive on reactors too.
  virtual void CommitRegistryChange(RegistryChange change,
                                    StoreDone<uint64_t> done) = 0;

  // Client certificates seen by the broker. Remember inserts or refreshes
  // one (an error is only logged by the caller: it never refuses a call);
  // SeenCertificatesValidAt lists those whose not_after is not before
  // `now`, soonest first.
  virtual void RememberCertificate(SeenCertificate certificate,
                                   StoreDone<bool> done) = 0;
  virtual void SeenCertificatesValidAt(
      absl::Time now, StoreDone<std::vector<SeenCertificate>> done) = 0;

  // The message path.
  virtual void CommitReferral(NewReferral referral,
                              StoreDone<v1::SendReferralResponse> done) = 0;
  // Appends `disclosure.entry`; returns its sequence.
  virtual void RecordManualDisclosure(ManualDisclosure disclosure,
                                      StoreDone<uint64_t> done) = 0;
  // Appends one entry (a denial, say) on its own; returns its sequence.
  // Appends `entry` alone. In every write that appends an entry: an
  // override's justification statement, when the entry carries one, is
  // sealed beside the log under the entry's statement_digest and cleared
  // from the entry before it is hashed into the log.
  virtual void AppendLog(v1::LogEntry entry, StoreDone<uint64_t> done) = 0;
  // Appends an ACCESS entry as AppendLog does. When it names a case and
  // no subject, the subject is the case's (the pseudonym the case was
  // opened for), so a subject's report lists who opened their case.
  virtual void RecordAccess(v1::LogEntry entry, StoreDone<uint64_t> done) = 0;
  // Leases up to `max` messages of `agency_id` that are pending, not
  // expired and not under a running lease, oldest first.
  virtual void LeaseInbox(const std::string& agency_id, absl::Time now,
                          absl::Duration lease, int max,
                          StoreDone<InboxLease> done) = 0;
  // Acknowledges one message of `agency_id`'s inbox; NOT_FOUND when that
  // inbox never held it. The first acknowledgement of a referral moves it
  // from SENT to DELIVERED, logs `delivery_entry` and tells the sender
  // through `sender_update` (its body is filled in by the store). Returns
  // the sender's agency id when it was told, else "".
  virtual void AckMessage(const std::string& agency_id,
                          const std::string& message_id, absl::Time now,
                          v1::LogEntry delivery_entry,
                          v1::InboxMessage sender_update,
                          absl::Time update_expires_at,
                          StoreDone<std::string> done) = 0;
  // A referral, for its sender or recipient only (NOT_FOUND otherwise).
  virtual void GetReferral(const std::string& agency_id,
                           const std::string& referral_id,
                           StoreDone<v1::Referral> done) = 0;
  // Applies a recipient's status change and queues it for the sender.
  virtual void ChangeReferral(ReferralChange change,
                              StoreDone<v1::Referral> done) = 0;
  // The sender takes back a referral, in one commit: the referral moves to
  // WITHDRAWN (its inbox message still unacknowledged: out of the inbox)
  // or RECALLED (acknowledged: a recall notice for the recipient, when
  // StoreRules::PlanTakeBack gives one), the broker's copies of its content
  // are purged, and the entry with the purge counts is appended. NOT_FOUND
  // for a referral the caller is not a party to; PERMISSION_DENIED for its
  // recipient. A referral taken back already is returned unchanged.
  virtual void TakeBackReferral(ReferralTakeBack take_back,
                                StoreDone<TakenBack> done) = 0;

  // Need-to-know summaries.
  //
  // Commits a push; a retry with the same key returns the first response.
  virtual void CommitSummaryPush(SummaryPush push,
                                 StoreDone<v1::PushSummaryResponse> done) = 0;
  // Commits a request; a retry with the same key returns the first
  // response.
  virtual void CommitSummaryRequest(
      NewSummaryRequest request,
      StoreDone<v1::RequestSummaryResponse> done) = 0;
  // A request addressed to `holder_agency_id` (NOT_FOUND otherwise, so ids
  // reveal nothing).
  virtual void GetSummaryRequest(const std::string& holder_agency_id,
                                 const std::string& request_id,
                                 StoreDone<StoredSummaryRequest> done) = 0;
  // Marks the request answered, appends the entry and queues the answer;
  // FAILED_PRECONDITION when it was answered already. Returns the entry's
  // sequence.
  virtual void CommitSummaryAnswer(SummaryAnswer answer,
                                   StoreDone<uint64_t> done) = 0;

  // The consent registry.
  //
  // Stores a consent or refusal and appends its entry; a retry with the
  // same key returns the consent first stored.
  virtual void RecordConsent(NewConsent consent,
                             StoreDone<v1::Consent> done) = 0;
  // NOT_FOUND when no consent has that id; callers decide who may see it.
  virtual void GetConsent(const std::string& consent_id,
                          StoreDone<StoredConsent> done) = 0;
  // The consent `consent_id` (empty for none) and the refusals recorded
  // for `subject_pseudonym`.
  virtual void LoadConsentFacts(const std::string& consent_id,
                                const std::string& subject_pseudonym,
                                StoreDone<ConsentFacts> done) = 0;
  // Sets withdrawn_at, appends the entries and queues a consent recall
  // notice for each agency that received messages under the consent,
  // naming them. A consent already withdrawn is returned unchanged.
  //
  // Every commit above that delivers under a consent records which agency
  // received which message under it, and fails with FAILED_PRECONDITION,
  // changing nothing, when the consent was withdrawn after the decision.
  virtual void WithdrawConsent(ConsentWithdrawal withdrawal,
                               StoreDone<WithdrawnConsent> done) = 0;

  // A case, for the agencies attached to it (NOT_FOUND otherwise).
  virtual void GetCase(const std::string& agency_id, const std::string& case_id,
                       StoreDone<v1::Case> done) = 0;
  // Makes handover.to_agency_id the case manager; only the current manager
  // may (PERMISSION_DENIED), and only to an attached agency
  // (FAILED_PRECONDITION). The handover is recorded with the case.
  virtual void HandOverCase(const std::string& agency_id,
                            const std::string& case_id,
                            v1::CaseHandover handover,
                            StoreDone<v1::Case> done) = 0;

  // Closes the case or detaches an agency from it (CheckCaseChange says
  // who may), appends the entry, and returns the case as `agency_id` now
  // sees it.
  virtual void ChangeCase(CaseChange change, StoreDone<v1::Case> done) = 0;

  // Purges the content whose retention ended (retention.h says what is
  // kept of each kind) and appends the PURGE entry, in one commit. The
  // bytes may linger in free pages or a write-ahead log until Scrub.
  virtual void Purge(PurgeRequest request, StoreDone<PurgeCounts> done) = 0;
  // Makes content removed by earlier purges unrecoverable from the store's
  // own files, as far as the backend can (SQLite: secure deletion, then a
  // checkpoint that truncates the write-ahead log). Returns whether it
  // completed; false when readers held it back (try again later). `done`
  // may run on the caller's thread.
  virtual void Scrub(StoreDone<bool> done) = 0;

  // Expires up to `max` pending messages whose time to live ended by `now`
  // and queues a non-delivery notice (living `notice_ttl`) for the sender
  // of each; the broker's own notices expire silently. Returns the agencies
  // whose inboxes gained a notice.
  virtual void ExpireInbox(absl::Time now, absl::Duration notice_ttl, int max,
                           StoreDone<std::vector<std::string>> done) = 0;
  // Escalates, once, each urgent referral still SENT or DELIVERED after its
  // acknowledgement deadline: a notice to its sender and to its case
  // manager. Returns the agencies notified.
  virtual void EscalateOverdue(absl::Time now, absl::Duration notice_ttl,
                               int max,
                               StoreDone<std::vector<std::string>> done) = 0;
  // Sends up to `max` overrides whose review is due by `now` (an entry's
  // review_by) and that have no final outcome an overdue-review notice in
  // the inbox of the agency whose data left, once each. Returns the
  // agencies notified.
  virtual void EscalateOverdueReviews(
      absl::Time now, absl::Duration notice_ttl, int max,
      StoreDone<std::vector<std::string>> done) = 0;

  // The disclosure log, for auditors. Reads never wait for commits.
  //
  // The latest signed tree head. Every commit that appends entries signs a
  // new head before it is answered.
  virtual void LatestTreeHead(StoreDone<v1::TreeHead> done) = 0;
  // Entries matching `query`, oldest first.
  virtual void ReadLog(LogQuery query, StoreDone<LogPage> done) = 0;
  // OUT_OF_RANGE when `size` is beyond the log or `sequence` not below it.
  virtual void ProveInclusion(uint64_t sequence, uint64_t size,
                              StoreDone<v1::InclusionProof> done) = 0;
  // OUT_OF_RANGE unless 0 < first_size <= second_size <= the log's size.
  virtual void ProveConsistency(uint64_t first_size, uint64_t second_size,
                                StoreDone<v1::ConsistencyProof> done) = 0;
  // OVERRIDE entries whose disclosing agency (the entry's actor) is one
  // of `scope`'s agencies (nullopt: all), with their latest review, oldest
  // first; reviewed ones (JUSTIFIED or NOT_JUSTIFIED) only with
  // `include_reviewed`. Only auditors whose scope covers the agency whose
  // data left review an override (DESIGN.md rule 6).
  virtual void ListOverrideReviews(
      std::optional<std::vector<std::string>> scope, bool include_reviewed,
      StoreDone<std::vector<v1::OverrideReview>> done) = 0;
  // Records a review and appends its entry in one commit; returns the
  // entry's sequence. NOT_FOUND when the sequence is not an OVERRIDE entry
  // involving one of `scope`'s agencies; PERMISSION_DENIED, naming the
  // disclosing agency, when it involves them only as its recipient;
  // FAILED_PRECONDITION when it was already reviewed JUSTIFIED or
  // NOT_JUSTIFIED.
  virtual void ReviewOverride(OverrideReviewChange change,
                              StoreDone<uint64_t> done) = 0;

  // Configuration each broker reads from its own files.
  //
  // Tells the other brokers on this store that this one put a new `kind`
  // of configuration in force ("policy" or "crl"), so that each re-reads
  // its own copy. A store only one broker opens has no one to tell: by
  // default this only answers.
  virtual void AnnounceReload(const std::string& kind,
                              std::function<void(absl::Status)> done) {
    (void)kind;
    done(absl::OkStatus());
  }
};

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_STORE_H_
