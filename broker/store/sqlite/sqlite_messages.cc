// The SQLite store's message path: referrals, the log's appends, inboxes,
// acknowledgements, status changes and the sweeper's expiry and escalations.
// Runs on the commit thread.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"
#include "broker/store/case_rules.h"
#include "broker/store/retention.h"
#include "broker/store/sqlite/sqlite_log.h"
#include "broker/store/sqlite/sqlite_query.h"
#include "broker/store/sqlite/sqlite_store.h"

namespace liaison {
namespace {

constexpr int kInboxAcknowledged = 1;
// Taken back by its sender before it was acknowledged.
constexpr int kInboxWithdrawn = 3;

}  // namespace

using sqlite::ParseBlob;
using sqlite::Query;
using sqlite::SqlError;
using sqlite::StatementCache;

// The message path. The helpers below run on the commit thread.

absl::Status SqliteStore::AppendLogLocked(v1::LogEntry* entry) {
  RETURN_IF_ERROR(appender_.Append(*log_, entry));
  if (entry->has_review_by() && entry->allowed()) {
    ASSIGN_OR_RETURN(
        StatementCache::Use insert,
        statements_->Get("INSERT INTO override_deadlines (seq, actor_agency, "
                         "review_by) VALUES (?1, ?2, ?3)"));
    RETURN_IF_ERROR(insert->Bind(1, static_cast<int64_t>(entry->sequence()))
                        .Bind(2, ActingParty(entry->actor()))
                        .Bind(3, TimeOf(entry->review_by()))
                        .Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::EnqueueLocked(const std::string& agency_id,
                                        const std::string& sender_agency_id,
                                        const std::string& referral_id,
                                        const v1::InboxMessage& message,
                                        absl::Time expires_at) {
  return InsertInboxRow(agency_id, sender_agency_id, referral_id, message,
                        message.SerializeAsString(), expires_at,
                        /*from_referral=*/false);
}

absl::Status SqliteStore::EnqueueReferralLocked(
    const std::string& agency_id, const std::string& sender_agency_id,
    const std::string& referral_id, v1::InboxMessage* delivery,
    absl::Time expires_at) {
  // Without the referral, which its row holds: taken out to serialize
  // the rest, and put back.
  std::unique_ptr<v1::Referral> referral(delivery->release_referral());
  const std::string body = delivery->SerializeAsString();
  delivery->set_allocated_referral(referral.release());
  return InsertInboxRow(agency_id, sender_agency_id, referral_id, *delivery,
                        body, expires_at, /*from_referral=*/true);
}

absl::Status SqliteStore::InsertInboxRow(
    const std::string& agency_id, const std::string& sender_agency_id,
    const std::string& referral_id, const v1::InboxMessage& message,
    const std::string& body, absl::Time expires_at, bool from_referral) {
  ASSIGN_OR_RETURN(
      StatementCache::Use insert,
      statements_->Get("INSERT INTO inbox (message_id, agency_id, "
                       "sender_agency_id, referral_id, body, enqueued_at, "
                       "expires_at, from_referral, kind) VALUES (?1, ?2, ?3, "
                       "?4, ?5, ?6, ?7, ?8, ?9)"));
  return insert->Bind(1, message.message_id())
      .Bind(2, agency_id)
      .Bind(3, sender_agency_id)
      .Bind(4, referral_id)
      .BindBlob(5, body)
      .Bind(6, absl::FromUnixSeconds(message.enqueued_at().seconds()) +
                   absl::Nanoseconds(message.enqueued_at().nanos()))
      .Bind(7, expires_at)
      .Bind(8, int64_t{from_referral ? 1 : 0})
      .Bind(9, int64_t{message.body_case()})
      .Run();
}

absl::StatusOr<v1::Referral> SqliteStore::LoadReferral(
    const std::string& referral_id) {
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT body, status FROM referrals WHERE "
                                    "referral_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, referral_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat(
        "no referral \"", referral_id, "\" that your agency is a party to"));
  }
  ASSIGN_OR_RETURN(v1::Referral referral,
                   ParseBlob<v1::Referral>(select->Blob(0), "referral"));
  referral.set_status(static_cast<v1::ReferralStatus>(select->Int(1)));
  ASSIGN_OR_RETURN(StatementCache::Use events,
                   statements_->Get("SELECT seq, event FROM referral_events "
                                    "WHERE referral_id=?1 ORDER BY seq"));
  events->Bind(1, referral_id);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, events->Step());
    if (!more) break;
    if (events->Int(0) != referral.history_size()) {
      return absl::DataLossError(absl::StrCat(
          "referral ", referral_id, " has event ", events->Int(0),
          " where event ", referral.history_size(), " was expected"));
    }
    ASSIGN_OR_RETURN(
        *referral.add_history(),
        ParseBlob<v1::ReferralEvent>(events->Blob(1), "referral event"));
  }
  return referral;
}

absl::Status SqliteStore::InsertReferral(const v1::Referral& referral,
                                         absl::Time deadline) {
  ASSIGN_OR_RETURN(
      StatementCache::Use insert,
      statements_->Get(
          "INSERT INTO referrals (referral_id, case_id, sender_agency_id, "
          "recipient_agency_id, status, body, deadline_at) VALUES "
          "(?1,?2,?3,?4,?5,?6,?7)"));
  return insert->Bind(1, referral.referral_id())
      .Bind(2, referral.case_id())
      .Bind(3, referral.sender_agency_id())
      .Bind(4, referral.recipient_agency_id())
      .Bind(5, int64_t{referral.status()})
      .BindBlob(6, referral.SerializeAsString())
      .Bind(7, deadline == absl::InfiniteFuture()
                   ? int64_t{0}
                   : absl::ToUnixMicros(deadline))
      .Run();
}

absl::Status SqliteStore::SaveReferralEvents(const v1::Referral& referral,
                                             int history_before) {
  ASSIGN_OR_RETURN(StatementCache::Use status,
                   statements_->Get("UPDATE referrals SET status=?2 WHERE "
                                    "referral_id=?1"));
  RETURN_IF_ERROR(status->Bind(1, referral.referral_id())
                      .Bind(2, int64_t{referral.status()})
                      .Run());
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_->Get("INSERT INTO referral_events (referral_id, "
                                    "seq, event) VALUES (?1,?2,?3)"));
  for (int i = history_before; i < referral.history_size(); ++i) {
    RETURN_IF_ERROR(insert->Reset()
                        .Bind(1, referral.referral_id())
                        .Bind(2, int64_t{i})
                        .BindBlob(3, referral.history(i).SerializeAsString())
                        .Run());
  }
  return absl::OkStatus();
}

void SqliteStore::CommitReferral(NewReferral referral,
                                 StoreDone<v1::SendReferralResponse> done) {
  auto in = std::make_shared<NewReferral>(std::move(referral));
  SubmitFor<v1::SendReferralResponse>(
      [this, in](v1::SendReferralResponse* out) -> absl::Status {
        // A retry of a send that already committed returns its answer.
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in->sender_agency_id, in->idempotency_key,
                                     in->request_digest, "referral"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, ParseBlob<v1::SendReferralResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        const v1::Referral& r = in->referral;
        const absl::Time now =
            absl::FromUnixSeconds(r.history(0).at().seconds());
        if (in->opens_case) {
          ASSIGN_OR_RETURN(StatementCache::Use open_case,
                           statements_->Get("INSERT INTO cases (case_id, "
                                            "manager_agency_id, opened_by, "
                                            "opened_at, subject_pseudonym) "
                                            "VALUES (?1,?2,?3,?4,?5)"));
          RETURN_IF_ERROR(open_case->Bind(1, r.case_id())
                              .Bind(2, r.recipient_agency_id())
                              .Bind(3, r.sender_agency_id())
                              .Bind(4, now)
                              .Bind(5, in->disclosure.subject_pseudonym())
                              .Run());
          ASSIGN_OR_RETURN(
              StatementCache::Use attach,
              statements_->Get("INSERT INTO case_agencies "
                               "(case_id, agency_id, reason, "
                               "attached_at) VALUES (?1,?2,?3,?4)"));
          RETURN_IF_ERROR(
              attach->Bind(1, r.case_id())
                  .Bind(2, r.sender_agency_id())
                  .Bind(3, "opened the case with referral " + r.referral_id())
                  .Bind(4, now)
                  .Run());
        } else {
          RETURN_IF_ERROR(CheckCaseMember(r.sender_agency_id(), r.case_id(),
                                          in->disclosure.subject_pseudonym(),
                                          "send a referral"));
        }
        // A referral to an agency detached from the case attaches it again.
        ASSIGN_OR_RETURN(
            StatementCache::Use attach_recipient,
            statements_->Get("INSERT INTO case_agencies (case_id, agency_id, "
                             "reason, attached_at) VALUES (?1,?2,?3,?4) ON "
                             "CONFLICT (case_id, agency_id) DO UPDATE SET "
                             "reason=excluded.reason, "
                             "attached_at=excluded.attached_at, "
                             "detached_at=0, detach_reason=0 WHERE "
                             "detached_at>0"));
        RETURN_IF_ERROR(attach_recipient->Bind(1, r.case_id())
                            .Bind(2, r.recipient_agency_id())
                            .Bind(3, "recipient of referral " + r.referral_id())
                            .Bind(4, now)
                            .Run());
        RETURN_IF_ERROR(InsertReferral(r, in->acknowledge_by));
        v1::LogEntry entry = in->disclosure;
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        RETURN_IF_ERROR(EnqueueReferralLocked(
            r.recipient_agency_id(), r.sender_agency_id(), r.referral_id(),
            &in->delivery, in->expires_at));
        RETURN_IF_ERROR(RecordConsentUseLocked(entry, r.recipient_agency_id(),
                                               in->delivery.message_id()));
        RETURN_IF_ERROR(
            EnqueueNoticesLocked(in->notices, r.referral_id(), in->expires_at));
        *out = in->response;
        out->set_log_sequence(entry.sequence());
        return RememberRequest(in->sender_agency_id, in->idempotency_key,
                               in->request_digest, out->SerializeAsString());
      },
      std::move(done));
}

absl::StatusOr<std::optional<std::string>> SqliteStore::SeenRequest(
    const std::string& agency_id, const std::string& key,
    const std::string& digest, absl::string_view what) {
  ASSIGN_OR_RETURN(StatementCache::Use seen,
                   statements_->Get("SELECT digest, response FROM idempotency "
                                    "WHERE agency_id=?1 AND key=?2"));
  ASSIGN_OR_RETURN(bool row, seen->Bind(1, agency_id).Bind(2, key).Step());
  if (!row) return std::optional<std::string>();
  RETURN_IF_ERROR(rules_->CheckRetry(key, seen->Text(0), digest, what));
  return std::optional<std::string>(seen->Blob(1));
}

absl::Status SqliteStore::RememberRequest(const std::string& agency_id,
                                          const std::string& key,
                                          const std::string& digest,
                                          const std::string& response) {
  ASSIGN_OR_RETURN(StatementCache::Use remember,
                   statements_->Get("INSERT INTO idempotency (agency_id, key, "
                                    "digest, response) VALUES (?1,?2,?3,?4)"));
  return remember->Bind(1, agency_id)
      .Bind(2, key)
      .Bind(3, digest)
      .BindBlob(4, response)
      .Run();
}

void SqliteStore::RecordManualDisclosure(ManualDisclosure disclosure,
                                         StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this,
       in = std::move(disclosure)](uint64_t* out) mutable -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in.agency_id, in.idempotency_key,
                                     in.request_digest, "manual disclosure"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              v1::RecordManualDisclosureResponse response,
              ParseBlob<v1::RecordManualDisclosureResponse>(*seen, "response"));
          *out = response.log_sequence();
          return absl::OkStatus();
        }
        if (!in.case_id.empty()) {
          RETURN_IF_ERROR(LoadCase(in.agency_id, in.case_id).status());
        }
        RETURN_IF_ERROR(AppendLogLocked(&in.entry));
        *out = in.entry.sequence();
        v1::RecordManualDisclosureResponse response;
        response.set_log_sequence(*out);
        return RememberRequest(in.agency_id, in.idempotency_key,
                               in.request_digest, response.SerializeAsString());
      },
      std::move(done));
}

void SqliteStore::AppendLog(v1::LogEntry entry, StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, entry = std::move(entry)](uint64_t* sequence) mutable {
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        *sequence = entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::RecordAccess(v1::LogEntry entry, StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, entry = std::move(entry)](uint64_t* sequence) mutable {
        if (entry.subject_pseudonym().empty() && !entry.case_id().empty()) {
          ASSIGN_OR_RETURN(StatementCache::Use select,
                           statements_->Get("SELECT subject_pseudonym FROM "
                                            "cases WHERE case_id=?1"));
          select->Bind(1, entry.case_id());
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (row) entry.set_subject_pseudonym(select->Text(0));
        }
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        *sequence = entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::LeaseInbox(const std::string& agency_id, absl::Time now,
                             absl::Duration lease, int max,
                             StoreDone<InboxLease> done) {
  SubmitFor<InboxLease>(
      [this, agency_id, now, lease, max](InboxLease* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            // By the agency's own pending messages: without the hint SQLite
            // chose the expiry index and scanned every agency's pending
            // messages, so one agency's backlog slowed every delivery.
            statements_->Get(
                "SELECT i.seq, i.body, i.attempts, r.body FROM inbox i "
                "INDEXED BY inbox_pending LEFT JOIN referrals r ON "
                "i.from_referral=1 AND r.referral_id=i.referral_id WHERE "
                "i.agency_id=?1 AND i.state=0 AND i.expires_at>?2 AND "
                "i.lease_until<=?2 ORDER BY i.seq LIMIT ?3"));
        select->Bind(1, agency_id).Bind(2, now).Bind(3, int64_t{max});
        std::vector<int64_t> seqs;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          ASSIGN_OR_RETURN(
              v1::InboxMessage m,
              ParseBlob<v1::InboxMessage>(select->Blob(1), "inbox message"));
          if (!select->IsNull(3)) {
            // The referral as sent: its row's body is never rewritten.
            ASSIGN_OR_RETURN(
                *m.mutable_referral(),
                ParseBlob<v1::Referral>(select->Blob(3), "referral"));
          }
          m.set_delivery_attempt(static_cast<uint32_t>(select->Int(2) + 1));
          const absl::Time until = now + lease;
          m.mutable_lease_expires_at()->set_seconds(absl::ToUnixSeconds(until));
          seqs.push_back(select->Int(0));
          out->messages.push_back(std::move(m));
        }
        for (int64_t seq : seqs) {
          ASSIGN_OR_RETURN(
              StatementCache::Use update,
              statements_->Get("UPDATE inbox SET lease_until=?2, "
                               "attempts=attempts+1 WHERE seq=?1"));
          RETURN_IF_ERROR(update->Bind(1, seq).Bind(2, now + lease).Run());
        }
        ASSIGN_OR_RETURN(StatementCache::Use next,
                         statements_->Get("SELECT MIN(lease_until) FROM inbox "
                                          "INDEXED BY inbox_pending WHERE "
                                          "agency_id=?1 AND state=0 AND "
                                          "lease_until>?2 AND expires_at>?2"));
        ASSIGN_OR_RETURN(bool row,
                         next->Bind(1, agency_id).Bind(2, now).Step());
        if (row && !next->IsNull(0)) {
          out->next_lease_end = absl::FromUnixMicros(next->Int(0));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::AckMessage(const std::string& agency_id,
                             const std::string& message_id, absl::Time now,
                             v1::LogEntry delivery_entry,
                             v1::InboxMessage sender_update,
                             absl::Time update_expires_at,
                             StoreDone<std::string> done) {
  auto entry = std::make_shared<v1::LogEntry>(std::move(delivery_entry));
  auto update = std::make_shared<v1::InboxMessage>(std::move(sender_update));
  SubmitFor<std::string>(
      [this, agency_id, message_id, now, entry, update,
       update_expires_at](std::string* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get("SELECT state, referral_id, body, "
                             "from_referral FROM inbox WHERE message_id=?1 "
                             "AND agency_id=?2"));
        ASSIGN_OR_RETURN(bool row,
                         select->Bind(1, message_id).Bind(2, agency_id).Step());
        if (!row) {
          return absl::NotFoundError(
              absl::StrCat("your inbox holds no message \"", message_id, "\""));
        }
        // A withdrawn message is not delivered again either.
        if (select->Int(0) == kInboxAcknowledged ||
            select->Int(0) == kInboxWithdrawn) {
          return absl::OkStatus();
        }
        const std::string referral_id = select->Text(1);
        bool delivers_referral = select->Int(3) == 1;
        std::optional<v1::Notice> recall;
        if (!delivers_referral) {
          // Written with its own copy (or not a referral): look inside.
          ASSIGN_OR_RETURN(
              v1::InboxMessage message,
              ParseBlob<v1::InboxMessage>(select->Blob(2), "inbox message"));
          delivers_referral = message.has_referral();
          if (IsRecall(message)) recall = message.notice();
        }
        ASSIGN_OR_RETURN(StatementCache::Use ack,
                         statements_->Get("UPDATE inbox SET state=?3, "
                                          "acked_at=?4 WHERE message_id=?1 AND "
                                          "agency_id=?2"));
        RETURN_IF_ERROR(ack->Bind(1, message_id)
                            .Bind(2, agency_id)
                            .Bind(3, int64_t{kInboxAcknowledged})
                            .Bind(4, now)
                            .Run());
        // The recipient has taken in the recall: the broker's own copies
        // of what it recalled go at once (DESIGN.md rule 10).
        if (recall.has_value()) {
          return PurgeRecalledLocked(agency_id, *recall, now);
        }
        if (!delivers_referral) return absl::OkStatus();
        ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(referral_id));
        const int history_before = referral.history_size();
        std::optional<v1::ReferralEvent> event =
            rules_->ApplyDelivery(agency_id, now, &referral);
        if (!event.has_value()) return absl::OkStatus();
        RETURN_IF_ERROR(SaveReferralEvents(referral, history_before));
        entry->set_case_id(referral.case_id());
        entry->set_counterpart(referral.sender_agency_id());
        RETURN_IF_ERROR(AppendLogLocked(entry.get()));
        *update->mutable_referral_update() = *std::move(event);
        update->set_referral_id(referral_id);
        RETURN_IF_ERROR(EnqueueLocked(referral.sender_agency_id(), agency_id,
                                      referral_id, *update, update_expires_at));
        *told = referral.sender_agency_id();
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::GetReferral(const std::string& agency_id,
                              const std::string& referral_id,
                              StoreDone<v1::Referral> done) {
  SubmitFor<v1::Referral>(
      [this, agency_id, referral_id](v1::Referral* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadReferral(referral_id));
        if (out->sender_agency_id() != agency_id &&
            out->recipient_agency_id() != agency_id) {
          // Not a party: indistinguishable from a referral that does not
          // exist, so ids reveal nothing.
          return absl::NotFoundError(
              absl::StrCat("no referral \"", referral_id,
                           "\" that your agency is a party to"));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::ChangeReferral(ReferralChange change,
                                 StoreDone<v1::Referral> done) {
  auto in = std::make_shared<ReferralChange>(std::move(change));
  SubmitFor<v1::Referral>(
      [this, in](v1::Referral* out) -> absl::Status {
        ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(in->referral_id));
        RETURN_IF_ERROR(CheckReferralParty(referral, in->agency_id,
                                           /*as_sender=*/false));
        const int history_before = referral.history_size();
        RETURN_IF_ERROR(rules_->ApplyRecipientChange(in->event, &referral));
        RETURN_IF_ERROR(SaveReferralEvents(referral, history_before));
        RETURN_IF_ERROR(AppendLogLocked(&in->feedback));
        if (in->update.has_value()) {
          *in->update->mutable_referral_update() = in->sender_event;
          in->update->set_referral_id(referral.referral_id());
          RETURN_IF_ERROR(EnqueueLocked(referral.sender_agency_id(),
                                        in->agency_id, referral.referral_id(),
                                        *in->update, in->update_expires_at));
          RETURN_IF_ERROR(RecordConsentUseLocked(in->feedback,
                                                 referral.sender_agency_id(),
                                                 in->update->message_id()));
        }
        *out = std::move(referral);
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::TakeBackReferral(ReferralTakeBack take_back,
                                   StoreDone<TakenBack> done) {
  auto in = std::make_shared<ReferralTakeBack>(std::move(take_back));
  SubmitFor<TakenBack>(
      [this, in](TakenBack* out) -> absl::Status {
        ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(in->referral_id));
        RETURN_IF_ERROR(CheckReferralParty(referral, in->agency_id,
                                           /*as_sender=*/true));
        // The message that carried it to the recipient.
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get("SELECT message_id, state, attempts, purged FROM "
                             "inbox WHERE referral_id=?1 AND agency_id=?2 AND "
                             "(from_referral=1 OR kind=10) ORDER BY seq "
                             "LIMIT 1"));
        ASSIGN_OR_RETURN(bool row, select->Bind(1, referral.referral_id())
                                       .Bind(2, referral.recipient_agency_id())
                                       .Step());
        if (!row) {
          return absl::DataLossError(absl::StrCat(
              "referral ", referral.referral_id(), " has no inbox message"));
        }
        const std::string message_id = select->Text(0);
        const bool acknowledged = select->Int(1) == kInboxAcknowledged;
        const bool shown = select->Int(2) > 0;
        const bool message_held = select->Int(3) == 0;
        ASSIGN_OR_RETURN(
            StatementCache::Use subject,
            statements_->Get(
                "SELECT subject_pseudonym FROM cases WHERE case_id=?1"));
        ASSIGN_OR_RETURN(bool has_case,
                         subject->Bind(1, referral.case_id()).Step());
        const std::string pseudonym = has_case ? subject->Text(0) : "";
        const int history_before = referral.history_size();
        std::optional<StoreRules::TakeBackPlan> plan = rules_->PlanTakeBack(
            *in, pseudonym, message_id, acknowledged, shown, &referral);
        if (!plan.has_value()) {
          out->referral = std::move(referral);
          return absl::OkStatus();
        }
        RETURN_IF_ERROR(SaveReferralEvents(referral, history_before));
        ASSIGN_OR_RETURN(StatementCache::Use stop,
                         statements_->Get("UPDATE referrals SET escalated=1 "
                                          "WHERE referral_id=?1"));
        RETURN_IF_ERROR(stop->Bind(1, referral.referral_id()).Run());
        // Out of the inbox if it was still there, and its bytes gone.
        PurgeCounts counts;
        ASSIGN_OR_RETURN(
            StatementCache::Use withdraw,
            statements_->Get("UPDATE inbox SET body=x'', purged=1, state=CASE "
                             "WHEN state=0 THEN ?3 ELSE state END WHERE "
                             "message_id=?1 AND agency_id=?2"));
        RETURN_IF_ERROR(withdraw->Bind(1, message_id)
                            .Bind(2, referral.recipient_agency_id())
                            .Bind(3, int64_t{kInboxWithdrawn})
                            .Run());
        if (message_held) ++counts[HeldKind::kInboxMessage];
        ASSIGN_OR_RETURN(
            StatementCache::Use held,
            statements_->Get("SELECT body FROM referrals WHERE referral_id=?1 "
                             "AND purged=0"));
        ASSIGN_OR_RETURN(bool content,
                         held->Bind(1, referral.referral_id()).Step());
        if (content) {
          // The case goes on: its handover notes stay.
          RETURN_IF_ERROR(
              PurgeReferralLocked(referral.referral_id(), held->Blob(0), ""));
          ++counts[HeldKind::kReferral];
        }
        NotePurged(counts, &plan->entry);
        RETURN_IF_ERROR(AppendLogLocked(&plan->entry));
        if (plan->notice.has_value()) {
          RETURN_IF_ERROR(EnqueueLocked(referral.recipient_agency_id(),
                                        in->agency_id, referral.referral_id(),
                                        *plan->notice, in->notice_expires_at));
          out->notified_agency_id = referral.recipient_agency_id();
        }
        ASSIGN_OR_RETURN(out->referral, LoadReferral(in->referral_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::ExpireInbox(absl::Time now, absl::Duration notice_ttl,
                              int max,
                              StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl,
       max](std::vector<std::string>* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get("SELECT seq, message_id, agency_id, "
                             "sender_agency_id, referral_id FROM inbox WHERE "
                             "state=0 AND expires_at<=?1 ORDER BY seq "
                             "LIMIT ?2"));
        select->Bind(1, now).Bind(2, int64_t{max});
        struct Expired {
          int64_t seq;
          std::string message_id, recipient, sender, referral_id;
        };
        std::vector<Expired> expired;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          expired.push_back({select->Int(0), select->Text(1), select->Text(2),
                             select->Text(3), select->Text(4)});
        }
        for (const Expired& e : expired) {
          ASSIGN_OR_RETURN(StatementCache::Use mark,
                           statements_->Get("UPDATE inbox SET state=2 WHERE "
                                            "seq=?1"));
          RETURN_IF_ERROR(mark->Bind(1, e.seq).Run());
          if (e.sender.empty()) continue;  // a notice: nobody to tell
          RETURN_IF_ERROR(
              EnqueueLocked(e.sender, "", e.referral_id,
                            rules_->NonDeliveryNotice(
                                e.message_id, e.referral_id, e.recipient, now),
                            now + notice_ttl));
          told->push_back(e.sender);
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::EscalateOverdue(absl::Time now, absl::Duration notice_ttl,
                                  int max,
                                  StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl,
       max](std::vector<std::string>* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get(
                "SELECT r.referral_id, r.deadline_at, c.manager_agency_id "
                "FROM referrals r JOIN cases c ON c.case_id = r.case_id "
                "WHERE r.escalated=0 AND r.deadline_at>0 AND "
                "r.deadline_at<=?1 AND r.status IN (?2, ?3) "
                "ORDER BY r.deadline_at LIMIT ?4"));
        select->Bind(1, now)
            .Bind(2, int64_t{v1::REFERRAL_STATUS_SENT})
            .Bind(3, int64_t{v1::REFERRAL_STATUS_DELIVERED})
            .Bind(4, int64_t{max});
        struct Overdue {
          std::string referral_id;
          absl::Time deadline;
          std::string manager;
        };
        std::vector<Overdue> overdue;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          overdue.push_back({select->Text(0),
                             absl::FromUnixMicros(select->Int(1)),
                             select->Text(2)});
        }
        for (const Overdue& o : overdue) {
          ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(o.referral_id));
          ASSIGN_OR_RETURN(StatementCache::Use mark,
                           statements_->Get("UPDATE referrals SET escalated=1 "
                                            "WHERE referral_id=?1"));
          RETURN_IF_ERROR(mark->Bind(1, o.referral_id).Run());
          std::vector<std::string> to = {referral.sender_agency_id()};
          if (o.manager != referral.sender_agency_id()) {
            to.push_back(o.manager);
          }
          for (const std::string& agency : to) {
            RETURN_IF_ERROR(EnqueueLocked(
                agency, "", referral.referral_id(),
                rules_->EscalationNotice(referral, o.deadline, now),
                now + notice_ttl));
            told->push_back(agency);
          }
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::EscalateOverdueReviews(
    absl::Time now, absl::Duration notice_ttl, int max,
    StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl,
       max](std::vector<std::string>* told) -> absl::Status {
        // Due, not escalated, and without a final outcome (a follow-up
        // outcome is not one).
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get(
                "SELECT d.seq, d.actor_agency, d.review_by FROM "
                "override_deadlines d LEFT JOIN override_reviews r ON "
                "r.seq = d.seq WHERE d.escalated=0 AND d.review_by<=?1 AND "
                "(r.outcome IS NULL OR r.outcome NOT IN (?2, ?3)) "
                "ORDER BY d.review_by LIMIT ?4"));
        select->Bind(1, now)
            .Bind(2, int64_t{v1::OverrideReview::OUTCOME_JUSTIFIED})
            .Bind(3, int64_t{v1::OverrideReview::OUTCOME_NOT_JUSTIFIED})
            .Bind(4, int64_t{max});
        struct Overdue {
          int64_t sequence;
          std::string agency;
          absl::Time review_by;
        };
        std::vector<Overdue> overdue;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          overdue.push_back({select->Int(0), select->Text(1),
                             absl::FromUnixMicros(select->Int(2))});
        }
        for (const Overdue& o : overdue) {
          ASSIGN_OR_RETURN(StatementCache::Use mark,
                           statements_->Get("UPDATE override_deadlines SET "
                                            "escalated=1 WHERE seq=?1"));
          RETURN_IF_ERROR(mark->Bind(1, o.sequence).Run());
          RETURN_IF_ERROR(EnqueueLocked(
              o.agency, "", "",
              rules_->OverdueReviewNotice(static_cast<uint64_t>(o.sequence),
                                          o.review_by, now),
              now + notice_ttl));
          told->push_back(o.agency);
        }
        return absl::OkStatus();
      },
      std::move(done));
}

}  // namespace liaison
