// The SQLite store's purge of content past its retention (DESIGN.md rule
// 10) and the scrub that takes the purged bytes out of the files. The purge
// runs on the commit thread, in one transaction with its PURGE entry.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"
#include "broker/store/retention.h"
#include "broker/store/sqlite/sqlite_query.h"
#include "broker/store/sqlite/sqlite_store.h"

namespace liaison {

using sqlite::ParseBlob;
using sqlite::StatementCache;

namespace {

// What a purge of one kind reads: the row's key (and a second one where
// needed) and the stored bytes.
struct HeldRow {
  std::string key;
  int64_t seq = 0;
  std::string body;
  std::string case_id;
};

// The rows `sql` finds due for `agency_id` by `cutoff` (?1, ?2), at most
// `max` (?3); its columns are the key, a sequence, the bytes and a case id.
absl::StatusOr<std::vector<HeldRow>> DueRows(StatementCache& statements,
                                             const char* sql,
                                             const std::string& agency_id,
                                             absl::Time cutoff, int64_t max) {
  std::vector<HeldRow> rows;
  ASSIGN_OR_RETURN(StatementCache::Use select, statements.Get(sql));
  select->Bind(1, agency_id).Bind(2, cutoff).Bind(3, max);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, select->Step());
    if (!more) break;
    rows.push_back(
        {select->Text(0), select->Int(1), select->Blob(2), select->Text(3)});
  }
  return rows;
}

}  // namespace

absl::StatusOr<int64_t> SqliteStore::PurgeInboxLocked(
    const std::string& agency_id, absl::Time cutoff, bool summaries,
    int64_t max) {
  int64_t purged = 0;
  // Acknowledged ones by their acknowledgement, expired ones by their
  // expiry.
  for (const char* sql :
       {"UPDATE inbox SET body=x'', purged=1 WHERE seq IN (SELECT seq FROM "
        "inbox WHERE agency_id=?1 AND state=1 AND purged=0 AND acked_at<=?2 "
        "AND (kind=14)=?3 LIMIT ?4)",
        "UPDATE inbox SET body=x'', purged=1 WHERE seq IN (SELECT seq FROM "
        "inbox WHERE agency_id=?1 AND state=2 AND purged=0 AND "
        "expires_at<=?2 AND (kind=14)=?3 LIMIT ?4)"}) {
    if (purged >= max) break;
    ASSIGN_OR_RETURN(StatementCache::Use update, statements_->Get(sql));
    RETURN_IF_ERROR(update->Bind(1, agency_id)
                        .Bind(2, cutoff)
                        .Bind(3, int64_t{summaries ? 1 : 0})
                        .Bind(4, max - purged)
                        .Run());
    purged += update->Changes();
  }
  return purged;
}

absl::StatusOr<int64_t> SqliteStore::PurgeReferralsLocked(
    const std::string& agency_id, absl::Time cutoff, int64_t max) {
  ASSIGN_OR_RETURN(
      std::vector<HeldRow> rows,
      DueRows(*statements_,
              "SELECT r.referral_id, 0, r.body, r.case_id FROM cases c JOIN "
              "referrals r ON r.case_id=c.case_id WHERE c.closed_at>0 AND "
              "c.closed_at<=?2 AND r.purged=0 AND r.sender_agency_id=?1 LIMIT "
              "?3",
              agency_id, cutoff, max));
  for (const HeldRow& row : rows) {
    RETURN_IF_ERROR(PurgeReferralLocked(row.key, row.body, row.case_id));
  }
  return static_cast<int64_t>(rows.size());
}

absl::Status SqliteStore::PurgeReferralLocked(const std::string& referral_id,
                                              const std::string& body,
                                              const std::string& case_id) {
  ASSIGN_OR_RETURN(v1::Referral referral,
                   ParseBlob<v1::Referral>(body, "referral"));
  PurgeReferral(&referral);
  ASSIGN_OR_RETURN(StatementCache::Use update,
                   statements_->Get("UPDATE referrals SET body=?2, purged=1 "
                                    "WHERE referral_id=?1"));
  RETURN_IF_ERROR(update->Bind(1, referral_id)
                      .BindBlob(2, referral.SerializeAsString())
                      .Run());
  // The details of its history, and its case's handover notes.
  RETURN_IF_ERROR(PurgeBlobsLocked(
      "SELECT seq, event FROM referral_events WHERE referral_id=?1",
      "UPDATE referral_events SET event=?3 WHERE referral_id=?1 AND seq=?2",
      referral_id, std::make_unique<v1::ReferralEvent>().get(),
      "referral event"));
  if (case_id.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(PurgeBlobsLocked(
      "SELECT seq, body FROM case_handovers WHERE case_id=?1",
      "UPDATE case_handovers SET body=?3 WHERE case_id=?1 AND seq=?2", case_id,
      std::make_unique<v1::CaseHandover>().get(), "case handover"));
  return absl::OkStatus();
}

absl::Status SqliteStore::PurgeRecalledLocked(const std::string& agency_id,
                                              const v1::Notice& recall,
                                              absl::Time now) {
  PurgeCounts counts;
  for (const std::string& id : recall.message_ids()) {
    ASSIGN_OR_RETURN(
        StatementCache::Use select,
        statements_->Get("SELECT kind, from_referral, referral_id FROM inbox "
                         "WHERE message_id=?1 AND agency_id=?2 AND purged=0"));
    ASSIGN_OR_RETURN(bool row, select->Bind(1, id).Bind(2, agency_id).Step());
    if (!row) continue;
    const int64_t kind = select->Int(0);
    const bool delivered_referral = select->Int(1) == 1 || kind == 10;
    const std::string referral_id = select->Text(2);
    // Not delivered yet, it never will be.
    ASSIGN_OR_RETURN(
        StatementCache::Use purge,
        statements_->Get("UPDATE inbox SET body=x'', purged=1, state=CASE "
                         "WHEN state=0 THEN 2 ELSE state END WHERE "
                         "message_id=?1 AND agency_id=?2"));
    RETURN_IF_ERROR(purge->Bind(1, id).Bind(2, agency_id).Run());
    ++counts[kind == 14 ? HeldKind::kSummary : HeldKind::kInboxMessage];
    if (!delivered_referral || referral_id.empty()) continue;
    ASSIGN_OR_RETURN(
        StatementCache::Use referral,
        statements_->Get("SELECT body FROM referrals WHERE referral_id=?1 "
                         "AND purged=0"));
    ASSIGN_OR_RETURN(bool held, referral->Bind(1, referral_id).Step());
    if (!held) continue;
    // The case goes on: its handover notes stay.
    RETURN_IF_ERROR(PurgeReferralLocked(referral_id, referral->Blob(0), ""));
    ++counts[HeldKind::kReferral];
  }
  v1::LogEntry entry = RecallPurgeEntry(now, recall, agency_id);
  if (AddPurgeCounts(counts, &entry) == 0) return absl::OkStatus();
  return AppendLogLocked(&entry);
}

absl::Status SqliteStore::PurgeBlobsLocked(const char* select_sql,
                                           const char* update_sql,
                                           const std::string& key,
                                           google::protobuf::Message* type,
                                           absl::string_view what) {
  std::vector<HeldRow> rows;
  {
    ASSIGN_OR_RETURN(StatementCache::Use select, statements_->Get(select_sql));
    select->Bind(1, key);
    for (;;) {
      ASSIGN_OR_RETURN(bool more, select->Step());
      if (!more) break;
      rows.push_back({key, select->Int(0), select->Blob(1), ""});
    }
  }
  for (const HeldRow& row : rows) {
    ASSIGN_OR_RETURN(std::string kept, PurgedBytes(row.body, type, what));
    if (kept == row.body) continue;
    ASSIGN_OR_RETURN(StatementCache::Use update, statements_->Get(update_sql));
    RETURN_IF_ERROR(
        update->Bind(1, key).Bind(2, row.seq).BindBlob(3, kept).Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::PurgeSummaryRequestsLocked(
    const std::string& agency_id, absl::Time cutoff, int64_t max) {
  ASSIGN_OR_RETURN(
      std::vector<HeldRow> rows,
      DueRows(*statements_,
              "SELECT request_id, 0, body, '' FROM summary_requests "
              "WHERE answered_at>0 AND answered_at<=?2 AND "
              "purged=0 AND requester_agency_id=?1 LIMIT ?3",
              agency_id, cutoff, max));
  for (const HeldRow& row : rows) {
    v1::SummaryRequestReceived request;
    ASSIGN_OR_RETURN(std::string kept,
                     PurgedBytes(row.body, &request, "summary request"));
    ASSIGN_OR_RETURN(StatementCache::Use update,
                     statements_->Get("UPDATE summary_requests SET body=?2, "
                                      "purged=1 WHERE request_id=?1"));
    RETURN_IF_ERROR(update->Bind(1, row.key).BindBlob(2, kept).Run());
  }
  return static_cast<int64_t>(rows.size());
}

absl::StatusOr<int64_t> SqliteStore::PurgeConsentsLocked(
    const std::string& agency_id, absl::Time cutoff, int64_t max) {
  ASSIGN_OR_RETURN(
      std::vector<HeldRow> rows,
      DueRows(*statements_,
              "SELECT consent_id, 0, body, '' FROM consents WHERE purged=0 AND "
              "recorded_by=?1 AND ((withdrawn_at>0 AND withdrawn_at<=?2) OR "
              "(ends_at>0 AND ends_at<=?2)) LIMIT ?3",
              agency_id, cutoff, max));
  for (const HeldRow& row : rows) {
    ASSIGN_OR_RETURN(v1::Consent consent,
                     ParseBlob<v1::Consent>(row.body, "consent"));
    PurgeConsentEvidence(&consent);
    ASSIGN_OR_RETURN(StatementCache::Use update,
                     statements_->Get("UPDATE consents SET body=?2, purged=1 "
                                      "WHERE consent_id=?1"));
    RETURN_IF_ERROR(update->Bind(1, row.key)
                        .BindBlob(2, consent.SerializeAsString())
                        .Run());
  }
  return static_cast<int64_t>(rows.size());
}

absl::StatusOr<int64_t> SqliteStore::PurgeStatementsLocked(
    const std::string& agency_id, absl::Time cutoff, int64_t max) {
  // Reviewed for good: JUSTIFIED (1) or NOT_JUSTIFIED (2), timed by the
  // review's entry.
  ASSIGN_OR_RETURN(
      std::vector<HeldRow> rows,
      DueRows(*statements_,
              "SELECT '', d.seq, e.entry, '' FROM override_deadlines d JOIN "
              "override_reviews r ON r.seq=d.seq JOIN log_index li ON "
              "li.seq=r.review_seq JOIN log_entries e ON e.seq=d.seq WHERE "
              "d.purged=0 AND d.actor_agency=?1 AND r.outcome IN (1, 2) AND "
              "li.time_us<=?2 LIMIT ?3",
              agency_id, cutoff, max));
  for (const HeldRow& row : rows) {
    ASSIGN_OR_RETURN(v1::LogEntry entry,
                     ParseBlob<v1::LogEntry>(row.body, "log entry"));
    ASSIGN_OR_RETURN(
        StatementCache::Use remove,
        statements_->Get("DELETE FROM sealed_statements WHERE digest=?1"));
    RETURN_IF_ERROR(remove->Bind(1, entry.statement_digest()).Run());
    ASSIGN_OR_RETURN(StatementCache::Use mark,
                     statements_->Get("UPDATE override_deadlines SET purged=1 "
                                      "WHERE seq=?1"));
    RETURN_IF_ERROR(mark->Bind(1, row.seq).Run());
  }
  return static_cast<int64_t>(rows.size());
}

void SqliteStore::Purge(PurgeRequest request, StoreDone<PurgeCounts> done) {
  auto in = std::make_shared<PurgeRequest>(std::move(request));
  SubmitFor<PurgeCounts>(
      [this, in](PurgeCounts* out) -> absl::Status {
        const int64_t max = in->max;
        for (const auto& [agency, cut] : in->by_agency) {
          const auto left = [&](HeldKind k) { return max - (*out)[k]; };
          int64_t n = 0;
          if (left(HeldKind::kInboxMessage) > 0) {
            ASSIGN_OR_RETURN(
                n, PurgeInboxLocked(agency, cut[HeldKind::kInboxMessage], false,
                                    left(HeldKind::kInboxMessage)));
            (*out)[HeldKind::kInboxMessage] += n;
          }
          if (left(HeldKind::kSummary) > 0) {
            ASSIGN_OR_RETURN(
                n, PurgeInboxLocked(agency, cut[HeldKind::kSummary], true,
                                    left(HeldKind::kSummary)));
            (*out)[HeldKind::kSummary] += n;
          }
          if (left(HeldKind::kReferral) > 0) {
            ASSIGN_OR_RETURN(
                n, PurgeReferralsLocked(agency, cut[HeldKind::kReferral],
                                        left(HeldKind::kReferral)));
            (*out)[HeldKind::kReferral] += n;
          }
          if (left(HeldKind::kSummaryRequest) > 0) {
            ASSIGN_OR_RETURN(n, PurgeSummaryRequestsLocked(
                                    agency, cut[HeldKind::kSummaryRequest],
                                    left(HeldKind::kSummaryRequest)));
            (*out)[HeldKind::kSummaryRequest] += n;
          }
          if (left(HeldKind::kConsentEvidence) > 0) {
            ASSIGN_OR_RETURN(
                n, PurgeConsentsLocked(agency, cut[HeldKind::kConsentEvidence],
                                       left(HeldKind::kConsentEvidence)));
            (*out)[HeldKind::kConsentEvidence] += n;
          }
          if (left(HeldKind::kOverrideStatement) > 0) {
            ASSIGN_OR_RETURN(n, PurgeStatementsLocked(
                                    agency, cut[HeldKind::kOverrideStatement],
                                    left(HeldKind::kOverrideStatement)));
            (*out)[HeldKind::kOverrideStatement] += n;
          }
        }
        if (AddPurgeCounts(*out, &in->entry) == 0) return absl::OkStatus();
        return AppendLogLocked(&in->entry);
      },
      std::move(done));
}

void SqliteStore::Scrub(StoreDone<bool> done) {
  // Secure deletion (set when the store opens) zeroed what the purge
  // freed in the database's pages; the older versions of those pages are
  // frames of the write-ahead log. A truncating checkpoint copies every
  // frame into the database and empties the log file. It waits for the
  // commit thread's current transaction, and cannot finish while a reader
  // is still on an older snapshot.
  int in_wal = 0;
  int copied = 0;
  absl::ReleasableMutexLock connection(&checkpoint_db_mu_);
  const int rc = sqlite3_wal_checkpoint_v2(
      checkpoint_db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &in_wal, &copied);
  absl::StatusOr<bool> result = true;
  if (rc == SQLITE_BUSY) {
    result = false;
  } else if (rc != SQLITE_OK) {
    result = absl::UnavailableError(
        absl::StrCat("cannot checkpoint the store after a purge: ",
                     sqlite3_errmsg(checkpoint_db_)));
  } else {
    checkpointed_frames_.store(0, std::memory_order_relaxed);
  }
  connection.Release();
  done(std::move(result));
}

}  // namespace liaison
