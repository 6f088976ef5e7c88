// The PostgreSQL store's message path: referrals, the log's appends,
// inboxes, acknowledgements, status changes and the sweeper's expiry and
// escalations. Runs on the commit thread, in the group's transaction.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"
#include "broker/store/case_rules.h"
#include "broker/store/postgres/pg_rows.h"
#include "broker/store/postgres/pg_store.h"
#include "broker/store/retention.h"

namespace liaison {
namespace {

constexpr int kInboxAcknowledged = 1;
// Taken back by its sender before it was acknowledged.
constexpr int kInboxWithdrawn = 3;
constexpr int kInboxExpired = 2;

}  // namespace

using pg::Param;
using pg::Parse;
using pg::Result;
using pg::TimeParam;

absl::Status PostgresStore::AppendLogLocked(v1::LogEntry* entry) {
  RETURN_IF_ERROR(appender_.Append(*writer_.log, entry));
  if (entry->has_review_by() && entry->allowed()) {
    RETURN_IF_ERROR(
        writer_.c
            ->Run("INSERT INTO override_deadlines (seq, actor_agency, "
                  "review_by) VALUES ($1, $2, $3)",
                  {Param::Int(static_cast<int64_t>(entry->sequence())),
                   Param::Text(ActingParty(entry->actor())),
                   TimeParam(TimeOf(entry->review_by()))})
            .status());
  }
  return absl::OkStatus();
}

absl::Status PostgresStore::EnqueueLocked(const std::string& agency_id,
                                          const std::string& sender_agency_id,
                                          const std::string& referral_id,
                                          const v1::InboxMessage& message,
                                          absl::Time expires_at) {
  RETURN_IF_ERROR(
      writer_.c
          ->Run("INSERT INTO inbox (message_id, agency_id, sender_agency_id, "
                "referral_id, body, enqueued_at, expires_at, kind) VALUES ($1, "
                "$2, $3, $4, $5, $6, $7, $8)",
                {Param::Text(message.message_id()), Param::Text(agency_id),
                 Param::Text(sender_agency_id), Param::Text(referral_id),
                 Param::Bytes(message.SerializeAsString()),
                 TimeParam(TimeOf(message.enqueued_at())),
                 TimeParam(expires_at), Param::Int(message.body_case())})
          .status());
  grown_.push_back(agency_id);
  return absl::OkStatus();
}

absl::Status PostgresStore::EnqueueNoticesLocked(
    const std::vector<QueuedNotice>& notices, const std::string& referral_id,
    absl::Time expires_at) {
  for (const QueuedNotice& n : notices) {
    // No sender: the broker's own notices expire silently.
    RETURN_IF_ERROR(
        EnqueueLocked(n.agency_id, "", referral_id, n.message, expires_at));
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<v1::Referral> LoadReferral(pg::Connection& c,
                                          const std::string& referral_id,
                                          bool for_update) {
  ASSIGN_OR_RETURN(
      Result r,
      c.Run(for_update
                ? "SELECT body FROM referrals WHERE referral_id = $1 FOR UPDATE"
                : "SELECT body FROM referrals WHERE referral_id = $1",
            {Param::Text(referral_id)}));
  if (r.rows() == 0) {
    return absl::NotFoundError(absl::StrCat(
        "no referral \"", referral_id, "\" that your agency is a party to"));
  }
  return Parse<v1::Referral>(r.Bytes(0, 0), "referral");
}

}  // namespace

absl::Status PostgresStore::SaveReferral(const v1::Referral& referral,
                                         absl::Time deadline) {
  return writer_.c
      ->Run(
          "INSERT INTO referrals (referral_id, case_id, sender_agency_id, "
          "recipient_agency_id, status, body, deadline_at) VALUES ($1, $2, "
          "$3, $4, $5, $6, $7) ON CONFLICT (referral_id) DO UPDATE SET "
          "status = EXCLUDED.status, body = EXCLUDED.body",
          {Param::Text(referral.referral_id()), Param::Text(referral.case_id()),
           Param::Text(referral.sender_agency_id()),
           Param::Text(referral.recipient_agency_id()),
           Param::Int(referral.status()),
           Param::Bytes(referral.SerializeAsString()),
           Param::Int(deadline == absl::InfiniteFuture()
                          ? 0
                          : absl::ToUnixMicros(deadline))})
      .status();
}

absl::StatusOr<std::optional<std::string>> PostgresStore::SeenRequest(
    const std::string& agency_id, const std::string& key,
    const std::string& digest, absl::string_view what) {
  ASSIGN_OR_RETURN(Result r,
                   writer_.c->Run("SELECT digest, response FROM idempotency "
                                  "WHERE agency_id = $1 AND key = $2",
                                  {Param::Text(agency_id), Param::Text(key)}));
  if (r.rows() == 0) return std::optional<std::string>();
  RETURN_IF_ERROR(rules_->CheckRetry(key, r.Text(0, 0), digest, what));
  return std::optional<std::string>(r.Bytes(0, 1));
}

absl::Status PostgresStore::RememberRequest(const std::string& agency_id,
                                            const std::string& key,
                                            const std::string& digest,
                                            const std::string& response) {
  return writer_.c
      ->Run(
          "INSERT INTO idempotency (agency_id, key, digest, response) "
          "VALUES ($1, $2, $3, $4)",
          {Param::Text(agency_id), Param::Text(key), Param::Text(digest),
           Param::Bytes(response)})
      .status();
}

void PostgresStore::CommitReferral(NewReferral referral,
                                   StoreDone<v1::SendReferralResponse> done) {
  auto in = std::make_shared<NewReferral>(std::move(referral));
  SubmitFor<v1::SendReferralResponse>(
      [this, in](Session& s, v1::SendReferralResponse* out) -> absl::Status {
        // A retry of a send that already committed, through any broker,
        // returns its answer.
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in->sender_agency_id, in->idempotency_key,
                                     in->request_digest, "referral"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(*out,
                           Parse<v1::SendReferralResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        const v1::Referral& r = in->referral;
        const absl::Time now =
            absl::FromUnixSeconds(r.history(0).at().seconds());
        if (in->opens_case) {
          RETURN_IF_ERROR(
              s.c->Run("INSERT INTO cases (case_id, manager_agency_id, "
                       "opened_by, opened_at, subject_pseudonym) VALUES ($1, "
                       "$2, $3, $4, $5)",
                       {Param::Text(r.case_id()),
                        Param::Text(r.recipient_agency_id()),
                        Param::Text(r.sender_agency_id()), TimeParam(now),
                        Param::Text(in->disclosure.subject_pseudonym())})
                  .status());
          RETURN_IF_ERROR(
              s.c->Run("INSERT INTO case_agencies (case_id, agency_id, "
                       "reason, attached_at) VALUES ($1, $2, $3, $4)",
                       {Param::Text(r.case_id()),
                        Param::Text(r.sender_agency_id()),
                        Param::Text("opened the case with referral " +
                                    r.referral_id()),
                        TimeParam(now)})
                  .status());
        } else {
          RETURN_IF_ERROR(CheckCaseMember(r.sender_agency_id(), r.case_id(),
                                          in->disclosure.subject_pseudonym(),
                                          "send a referral"));
        }
        RETURN_IF_ERROR(
            // A referral to an agency detached from the case attaches it
            // again.
            s.c->Run("INSERT INTO case_agencies (case_id, agency_id, reason, "
                     "attached_at) VALUES ($1, $2, $3, $4) ON CONFLICT "
                     "(case_id, agency_id) DO UPDATE SET reason = "
                     "excluded.reason, attached_at = excluded.attached_at, "
                     "detached_at = 0, detach_reason = 0 WHERE "
                     "case_agencies.detached_at > 0",
                     {Param::Text(r.case_id()),
                      Param::Text(r.recipient_agency_id()),
                      Param::Text("recipient of referral " + r.referral_id()),
                      TimeParam(now)})
                .status());
        RETURN_IF_ERROR(SaveReferral(r, in->acknowledge_by));
        v1::LogEntry entry = in->disclosure;
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        RETURN_IF_ERROR(EnqueueLocked(r.recipient_agency_id(),
                                      r.sender_agency_id(), r.referral_id(),
                                      in->delivery, in->expires_at));
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

void PostgresStore::RecordManualDisclosure(ManualDisclosure disclosure,
                                           StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, in = std::move(disclosure)](
          Session& s, uint64_t* out) mutable -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in.agency_id, in.idempotency_key,
                                     in.request_digest, "manual disclosure"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              v1::RecordManualDisclosureResponse response,
              Parse<v1::RecordManualDisclosureResponse>(*seen, "response"));
          *out = response.log_sequence();
          return absl::OkStatus();
        }
        if (!in.case_id.empty()) {
          RETURN_IF_ERROR(LoadCase(*s.c, in.agency_id, in.case_id).status());
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

void PostgresStore::AppendLog(v1::LogEntry entry, StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, entry = std::move(entry)](Session&, uint64_t* sequence) mutable {
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        *sequence = entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::RecordAccess(v1::LogEntry entry, StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, entry = std::move(entry)](Session& s, uint64_t* sequence) mutable {
        if (entry.subject_pseudonym().empty() && !entry.case_id().empty()) {
          ASSIGN_OR_RETURN(Result r, s.c->Run("SELECT subject_pseudonym FROM "
                                              "cases WHERE case_id = $1",
                                              {Param::Text(entry.case_id())}));
          if (r.rows() > 0) entry.set_subject_pseudonym(r.Text(0, 0));
        }
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        *sequence = entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::LeaseInbox(const std::string& agency_id, absl::Time now,
                               absl::Duration lease, int max,
                               StoreDone<InboxLease> done) {
  SubmitFor<InboxLease>(
      [agency_id, now, lease, max](Session& s,
                                   InboxLease* out) -> absl::Status {
        // SKIP LOCKED: rows another transaction holds are not leased twice.
        ASSIGN_OR_RETURN(
            Result r,
            s.c->Run("UPDATE inbox SET lease_until = $4, attempts = "
                     "attempts + 1 WHERE seq IN (SELECT seq FROM inbox WHERE "
                     "agency_id = $1 AND state = 0 AND expires_at > $2 AND "
                     "lease_until <= $2 ORDER BY seq LIMIT $3 FOR UPDATE "
                     "SKIP LOCKED) RETURNING seq, body, attempts",
                     {Param::Text(agency_id), TimeParam(now), Param::Int(max),
                      TimeParam(now + lease)}));
        std::vector<std::pair<int64_t, v1::InboxMessage>> leased;
        for (int row = 0; row < r.rows(); ++row) {
          ASSIGN_OR_RETURN(
              v1::InboxMessage m,
              Parse<v1::InboxMessage>(r.Bytes(row, 1), "inbox message"));
          m.set_delivery_attempt(static_cast<uint32_t>(r.Int(row, 2)));
          m.mutable_lease_expires_at()->set_seconds(
              absl::ToUnixSeconds(now + lease));
          leased.emplace_back(r.Int(row, 0), std::move(m));
        }
        // RETURNING keeps no order: oldest first, as asked.
        std::sort(
            leased.begin(), leased.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& l : leased) out->messages.push_back(std::move(l.second));
        ASSIGN_OR_RETURN(
            Result next,
            s.c->Run("SELECT MIN(lease_until) FROM inbox WHERE agency_id = $1 "
                     "AND state = 0 AND lease_until > $2 AND expires_at > $2",
                     {Param::Text(agency_id), TimeParam(now)}));
        if (next.rows() == 1 && !next.IsNull(0, 0)) {
          out->next_lease_end = absl::FromUnixMicros(next.Int(0, 0));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::AckMessage(const std::string& agency_id,
                               const std::string& message_id, absl::Time now,
                               v1::LogEntry delivery_entry,
                               v1::InboxMessage sender_update,
                               absl::Time update_expires_at,
                               StoreDone<std::string> done) {
  auto entry = std::make_shared<v1::LogEntry>(std::move(delivery_entry));
  auto update = std::make_shared<v1::InboxMessage>(std::move(sender_update));
  SubmitFor<std::string>(
      [this, agency_id, message_id, now, entry, update, update_expires_at](
          Session& s, std::string* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            Result r,
            s.c->Run("SELECT state, referral_id, body FROM inbox WHERE "
                     "message_id = $1 AND agency_id = $2 FOR UPDATE",
                     {Param::Text(message_id), Param::Text(agency_id)}));
        if (r.rows() == 0) {
          return absl::NotFoundError(
              absl::StrCat("your inbox holds no message \"", message_id, "\""));
        }
        // A withdrawn message is not delivered again either.
        if (r.Int(0, 0) == kInboxAcknowledged ||
            r.Int(0, 0) == kInboxWithdrawn) {
          return absl::OkStatus();
        }
        const std::string referral_id = r.Text(0, 1);
        ASSIGN_OR_RETURN(
            v1::InboxMessage message,
            Parse<v1::InboxMessage>(r.Bytes(0, 2), "inbox message"));
        RETURN_IF_ERROR(
            s.c->Run("UPDATE inbox SET state = $3, acked_at = $4 WHERE "
                     "message_id = $1 AND agency_id = $2",
                     {Param::Text(message_id), Param::Text(agency_id),
                      Param::Int(kInboxAcknowledged), TimeParam(now)})
                .status());
        // The recipient has taken in the recall: the broker's own copies
        // of what it recalled go at once (DESIGN.md rule 10).
        if (IsRecall(message)) {
          return PurgeRecalledLocked(agency_id, message.notice(), now);
        }
        if (!message.has_referral()) return absl::OkStatus();
        ASSIGN_OR_RETURN(v1::Referral referral,
                         LoadReferral(*s.c, referral_id, /*for_update=*/true));
        std::optional<v1::ReferralEvent> event =
            rules_->ApplyDelivery(agency_id, now, &referral);
        if (!event.has_value()) return absl::OkStatus();
        RETURN_IF_ERROR(SaveReferral(referral));
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

void PostgresStore::GetReferral(const std::string& agency_id,
                                const std::string& referral_id,
                                StoreDone<v1::Referral> done) {
  SubmitFor<v1::Referral>(
      [agency_id, referral_id](Session& s, v1::Referral* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out,
                         LoadReferral(*s.c, referral_id, /*for_update=*/false));
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
      std::move(done), /*read=*/true);
}

void PostgresStore::TakeBackReferral(ReferralTakeBack take_back,
                                     StoreDone<TakenBack> done) {
  auto in = std::make_shared<ReferralTakeBack>(std::move(take_back));
  SubmitFor<TakenBack>(
      [this, in](Session& s, TakenBack* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            v1::Referral referral,
            LoadReferral(*s.c, in->referral_id, /*for_update=*/true));
        RETURN_IF_ERROR(CheckReferralParty(referral, in->agency_id,
                                           /*as_sender=*/true));
        // The message that carried it to the recipient.
        ASSIGN_OR_RETURN(
            Result m,
            s.c->Run("SELECT message_id, state, attempts, purged::int FROM "
                     "inbox "
                     "WHERE referral_id = $1 AND agency_id = $2 AND kind = 10 "
                     "ORDER BY seq LIMIT 1 FOR UPDATE",
                     {Param::Text(referral.referral_id()),
                      Param::Text(referral.recipient_agency_id())}));
        if (m.rows() == 0) {
          return absl::DataLossError(absl::StrCat(
              "referral ", referral.referral_id(), " has no inbox message"));
        }
        const std::string message_id = m.Text(0, 0);
        const bool acknowledged = m.Int(0, 1) == kInboxAcknowledged;
        const bool shown = m.Int(0, 2) > 0;
        const bool message_held = m.Int(0, 3) == 0;
        ASSIGN_OR_RETURN(Result c,
                         s.c->Run("SELECT subject_pseudonym FROM cases WHERE "
                                  "case_id = $1",
                                  {Param::Text(referral.case_id())}));
        const std::string pseudonym = c.rows() > 0 ? c.Text(0, 0) : "";
        std::optional<StoreRules::TakeBackPlan> plan = rules_->PlanTakeBack(
            *in, pseudonym, message_id, acknowledged, shown, &referral);
        if (!plan.has_value()) {
          out->referral = std::move(referral);
          return absl::OkStatus();
        }
        // Out of the inbox if it was still there, and its bytes gone.
        PurgeCounts counts;
        RETURN_IF_ERROR(
            s.c->Run("UPDATE inbox SET body = ''::bytea, purged = TRUE, state "
                     "= CASE WHEN state = 0 THEN $3 ELSE state END WHERE "
                     "message_id = $1 AND agency_id = $2",
                     {Param::Text(message_id),
                      Param::Text(referral.recipient_agency_id()),
                      Param::Int(kInboxWithdrawn)})
                .status());
        if (message_held) ++counts[HeldKind::kInboxMessage];
        ASSIGN_OR_RETURN(Result held,
                         s.c->Run("SELECT purged::int FROM referrals WHERE "
                                  "referral_id = $1",
                                  {Param::Text(referral.referral_id())}));
        if (held.rows() > 0 && held.Int(0, 0) == 0) {
          ++counts[HeldKind::kReferral];
        }
        PurgeReferral(&referral);
        RETURN_IF_ERROR(
            s.c->Run("UPDATE referrals SET status = $2, body = $3, purged = "
                     "TRUE, escalated = TRUE WHERE referral_id = $1",
                     {Param::Text(referral.referral_id()),
                      Param::Int(referral.status()),
                      Param::Bytes(referral.SerializeAsString())})
                .status());
        NotePurged(counts, &plan->entry);
        RETURN_IF_ERROR(AppendLogLocked(&plan->entry));
        if (plan->notice.has_value()) {
          RETURN_IF_ERROR(EnqueueLocked(referral.recipient_agency_id(),
                                        in->agency_id, referral.referral_id(),
                                        *plan->notice, in->notice_expires_at));
          out->notified_agency_id = referral.recipient_agency_id();
        }
        out->referral = std::move(referral);
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::ChangeReferral(ReferralChange change,
                                   StoreDone<v1::Referral> done) {
  auto in = std::make_shared<ReferralChange>(std::move(change));
  SubmitFor<v1::Referral>(
      [this, in](Session& s, v1::Referral* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            v1::Referral referral,
            LoadReferral(*s.c, in->referral_id, /*for_update=*/true));
        RETURN_IF_ERROR(CheckReferralParty(referral, in->agency_id,
                                           /*as_sender=*/false));
        RETURN_IF_ERROR(rules_->ApplyRecipientChange(in->event, &referral));
        RETURN_IF_ERROR(SaveReferral(referral));
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

void PostgresStore::ExpireInbox(absl::Time now, absl::Duration notice_ttl,
                                int max,
                                StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl, max](
          Session& s, std::vector<std::string>* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            Result r,
            s.c->Run(
                "UPDATE inbox SET state = $3 WHERE seq IN (SELECT seq "
                "FROM inbox WHERE state = 0 AND expires_at <= $1 ORDER "
                "BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING seq, "
                "message_id, agency_id, sender_agency_id, referral_id",
                {TimeParam(now), Param::Int(max), Param::Int(kInboxExpired)}));
        struct Expired {
          int64_t seq;
          std::string message_id, recipient, sender, referral_id;
        };
        std::vector<Expired> expired;
        for (int row = 0; row < r.rows(); ++row) {
          expired.push_back({r.Int(row, 0), r.Text(row, 1), r.Text(row, 2),
                             r.Text(row, 3), r.Text(row, 4)});
        }
        std::sort(
            expired.begin(), expired.end(),
            [](const Expired& a, const Expired& b) { return a.seq < b.seq; });
        for (const Expired& e : expired) {
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

void PostgresStore::EscalateOverdue(absl::Time now, absl::Duration notice_ttl,
                                    int max,
                                    StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl, max](
          Session& s, std::vector<std::string>* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            Result r,
            s.c->Run(
                "SELECT r.referral_id, r.deadline_at, "
                "c.manager_agency_id FROM referrals r JOIN cases c ON "
                "c.case_id = r.case_id WHERE NOT r.escalated AND "
                "r.deadline_at > 0 AND r.deadline_at <= $1 AND r.status "
                "IN ($2, $3) ORDER BY r.deadline_at LIMIT $4 FOR UPDATE "
                "OF r",
                {TimeParam(now), Param::Int(v1::REFERRAL_STATUS_SENT),
                 Param::Int(v1::REFERRAL_STATUS_DELIVERED), Param::Int(max)}));
        for (int row = 0; row < r.rows(); ++row) {
          const std::string referral_id = r.Text(row, 0);
          const absl::Time deadline = absl::FromUnixMicros(r.Int(row, 1));
          const std::string manager = r.Text(row, 2);
          ASSIGN_OR_RETURN(
              v1::Referral referral,
              LoadReferral(*s.c, referral_id, /*for_update=*/false));
          RETURN_IF_ERROR(s.c->Run("UPDATE referrals SET escalated = TRUE "
                                   "WHERE referral_id = $1",
                                   {Param::Text(referral_id)})
                              .status());
          std::vector<std::string> to = {referral.sender_agency_id()};
          if (manager != referral.sender_agency_id()) to.push_back(manager);
          for (const std::string& agency : to) {
            RETURN_IF_ERROR(
                EnqueueLocked(agency, "", referral.referral_id(),
                              rules_->EscalationNotice(referral, deadline, now),
                              now + notice_ttl));
            told->push_back(agency);
          }
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::EscalateOverdueReviews(
    absl::Time now, absl::Duration notice_ttl, int max,
    StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl, max](
          Session& s, std::vector<std::string>* told) -> absl::Status {
        // Due, not escalated, and without a final outcome (a follow-up
        // outcome is not one).
        ASSIGN_OR_RETURN(
            Result r,
            s.c->Run("SELECT d.seq, d.actor_agency, d.review_by FROM "
                     "override_deadlines d LEFT JOIN override_reviews r ON "
                     "r.seq = d.seq WHERE NOT d.escalated AND d.review_by <= "
                     "$1 AND (r.outcome IS NULL OR r.outcome NOT IN ($2, $3)) "
                     "ORDER BY d.review_by LIMIT $4 FOR UPDATE OF d",
                     {TimeParam(now),
                      Param::Int(v1::OverrideReview::OUTCOME_JUSTIFIED),
                      Param::Int(v1::OverrideReview::OUTCOME_NOT_JUSTIFIED),
                      Param::Int(max)}));
        for (int row = 0; row < r.rows(); ++row) {
          const int64_t sequence = r.Int(row, 0);
          const std::string agency = r.Text(row, 1);
          RETURN_IF_ERROR(s.c->Run("UPDATE override_deadlines SET escalated "
                                   "= TRUE WHERE seq = $1",
                                   {Param::Int(sequence)})
                              .status());
          RETURN_IF_ERROR(EnqueueLocked(
              agency, "", "",
              rules_->OverdueReviewNotice(static_cast<uint64_t>(sequence),
                                          absl::FromUnixMicros(r.Int(row, 2)),
                                          now),
              now + notice_ttl));
          told->push_back(agency);
        }
        return absl::OkStatus();
      },
      std::move(done));
}

}  // namespace liaison
