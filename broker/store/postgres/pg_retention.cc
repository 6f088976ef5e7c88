// The PostgreSQL store's purge of content past its retention (DESIGN.md
// rule 10), on the commit thread in one transaction with its PURGE entry,
// and its scrub.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"
#include "broker/store/postgres/pg_rows.h"
#include "broker/store/postgres/pg_store.h"
#include "broker/store/retention.h"

namespace liaison {

using pg::Param;
using pg::Parse;
using pg::Result;
using pg::TimeParam;

absl::StatusOr<int64_t> PostgresStore::PurgeHeldLocked(
    const std::string& agency_id, HeldKind kind, absl::Time cutoff,
    int64_t max) {
  pg::Connection& c = *writer_.c;
  const std::vector<Param> params = {Param::Text(agency_id), TimeParam(cutoff),
                                     Param::Int(max)};
  switch (kind) {
    case HeldKind::kInboxMessage:
    case HeldKind::kSummary: {
      // Acknowledged ones by their acknowledgement, expired ones by their
      // expiry.
      const std::string summaries =
          kind == HeldKind::kSummary ? "kind = 14" : "kind <> 14";
      ASSIGN_OR_RETURN(
          Result r,
          c.Run(absl::StrCat(
                    "UPDATE inbox SET body = ''::bytea, purged = TRUE WHERE "
                    "seq IN (SELECT seq FROM inbox WHERE agency_id = $1 AND "
                    "NOT purged AND ",
                    summaries,
                    " AND ((state = 1 AND acked_at <= $2) OR (state = 2 AND "
                    "expires_at <= $2)) LIMIT $3) RETURNING 1"),
                params));
      return r.rows();
    }
    case HeldKind::kReferral: {
      ASSIGN_OR_RETURN(
          Result r,
          c.Run("SELECT r.referral_id, r.case_id, r.body FROM cases k JOIN "
                "referrals r ON r.case_id = k.case_id WHERE k.closed_at > 0 "
                "AND k.closed_at <= $2 AND NOT r.purged AND "
                "r.sender_agency_id = $1 LIMIT $3",
                params));
      for (int row = 0; row < r.rows(); ++row) {
        ASSIGN_OR_RETURN(v1::Referral referral,
                         Parse<v1::Referral>(r.Bytes(row, 2), "referral"));
        PurgeReferral(&referral);
        RETURN_IF_ERROR(c.Run("UPDATE referrals SET body = $2, purged = TRUE "
                              "WHERE referral_id = $1",
                              {Param::Text(r.Text(row, 0)),
                               Param::Bytes(referral.SerializeAsString())})
                            .status());
        // Its case's handover notes.
        ASSIGN_OR_RETURN(Result handovers,
                         c.Run("SELECT seq, body FROM case_handovers WHERE "
                               "case_id = $1",
                               {Param::Text(r.Text(row, 1))}));
        for (int h = 0; h < handovers.rows(); ++h) {
          v1::CaseHandover handover;
          ASSIGN_OR_RETURN(
              std::string kept,
              PurgedBytes(handovers.Bytes(h, 1), &handover, "case handover"));
          RETURN_IF_ERROR(
              c.Run("UPDATE case_handovers SET body = $3 WHERE "
                    "case_id = $1 AND seq = $2",
                    {Param::Text(r.Text(row, 1)),
                     Param::Int(handovers.Int(h, 0)), Param::Bytes(kept)})
                  .status());
        }
      }
      return r.rows();
    }
    case HeldKind::kSummaryRequest: {
      ASSIGN_OR_RETURN(
          Result r,
          c.Run("SELECT request_id, body FROM summary_requests WHERE "
                "answered_at > 0 AND answered_at <= $2 AND NOT purged AND "
                "requester_agency_id = $1 LIMIT $3",
                params));
      for (int row = 0; row < r.rows(); ++row) {
        v1::SummaryRequestReceived request;
        ASSIGN_OR_RETURN(
            std::string kept,
            PurgedBytes(r.Bytes(row, 1), &request, "summary request"));
        RETURN_IF_ERROR(c.Run("UPDATE summary_requests SET body = $2, purged "
                              "= TRUE WHERE request_id = $1",
                              {Param::Text(r.Text(row, 0)), Param::Bytes(kept)})
                            .status());
      }
      return r.rows();
    }
    case HeldKind::kConsentEvidence: {
      ASSIGN_OR_RETURN(
          Result r,
          c.Run("SELECT consent_id, body FROM consents WHERE NOT purged AND "
                "recorded_by = $1 AND ((withdrawn_at > 0 AND withdrawn_at <= "
                "$2) OR (ends_at > 0 AND ends_at <= $2)) LIMIT $3",
                params));
      for (int row = 0; row < r.rows(); ++row) {
        ASSIGN_OR_RETURN(v1::Consent consent,
                         Parse<v1::Consent>(r.Bytes(row, 1), "consent"));
        PurgeConsentEvidence(&consent);
        RETURN_IF_ERROR(c.Run("UPDATE consents SET body = $2, purged = TRUE "
                              "WHERE consent_id = $1",
                              {Param::Text(r.Text(row, 0)),
                               Param::Bytes(consent.SerializeAsString())})
                            .status());
      }
      return r.rows();
    }
    case HeldKind::kOverrideStatement: {
      // Reviewed for good: JUSTIFIED (1) or NOT_JUSTIFIED (2), timed by
      // the review's entry.
      ASSIGN_OR_RETURN(
          Result r,
          c.Run("SELECT d.seq, e.entry FROM override_deadlines d JOIN "
                "override_reviews v ON v.seq = d.seq JOIN log_entries l ON "
                "l.seq = v.review_seq JOIN log_entries e ON e.seq = d.seq "
                "WHERE NOT d.purged AND d.actor_agency = $1 AND v.outcome IN "
                "(1, 2) AND l.time_us <= $2 LIMIT $3",
                params));
      for (int row = 0; row < r.rows(); ++row) {
        ASSIGN_OR_RETURN(v1::LogEntry entry,
                         Parse<v1::LogEntry>(r.Bytes(row, 1), "log entry"));
        RETURN_IF_ERROR(c.Run("DELETE FROM sealed_statements WHERE digest = $1",
                              {Param::Text(entry.statement_digest())})
                            .status());
        RETURN_IF_ERROR(c.Run("UPDATE override_deadlines SET purged = TRUE "
                              "WHERE seq = $1",
                              {Param::Int(r.Int(row, 0))})
                            .status());
      }
      return r.rows();
    }
  }
  return 0;
}

absl::Status PostgresStore::PurgeRecalledLocked(const std::string& agency_id,
                                                const v1::Notice& recall,
                                                absl::Time now) {
  pg::Connection& c = *writer_.c;
  PurgeCounts counts;
  for (const std::string& id : recall.message_ids()) {
    // Not delivered yet, it never will be.
    ASSIGN_OR_RETURN(
        Result r,
        c.Run("UPDATE inbox SET body = ''::bytea, purged = TRUE, state = CASE "
              "WHEN state = 0 THEN 2 ELSE state END WHERE message_id = $1 AND "
              "agency_id = $2 AND NOT purged RETURNING kind, referral_id",
              {Param::Text(id), Param::Text(agency_id)}));
    if (r.rows() == 0) continue;
    const int64_t kind = r.Int(0, 0);
    const std::string referral_id = r.Text(0, 1);
    ++counts[kind == 14 ? HeldKind::kSummary : HeldKind::kInboxMessage];
    if (kind != 10 || referral_id.empty()) continue;
    ASSIGN_OR_RETURN(Result held,
                     c.Run("SELECT body FROM referrals WHERE referral_id = $1 "
                           "AND NOT purged FOR UPDATE",
                           {Param::Text(referral_id)}));
    if (held.rows() == 0) continue;
    ASSIGN_OR_RETURN(v1::Referral referral,
                     Parse<v1::Referral>(held.Bytes(0, 0), "referral"));
    PurgeReferral(&referral);
    RETURN_IF_ERROR(c.Run("UPDATE referrals SET body = $2, purged = TRUE "
                          "WHERE referral_id = $1",
                          {Param::Text(referral_id),
                           Param::Bytes(referral.SerializeAsString())})
                        .status());
    ++counts[HeldKind::kReferral];
  }
  v1::LogEntry entry = RecallPurgeEntry(now, recall, agency_id);
  if (AddPurgeCounts(counts, &entry) == 0) return absl::OkStatus();
  return AppendLogLocked(&entry);
}

void PostgresStore::Purge(PurgeRequest request, StoreDone<PurgeCounts> done) {
  auto in = std::make_shared<PurgeRequest>(std::move(request));
  SubmitFor<PurgeCounts>(
      [this, in](Session&, PurgeCounts* out) -> absl::Status {
        for (const auto& [agency, cut] : in->by_agency) {
          for (int k = 0; k < kHeldKinds; ++k) {
            const HeldKind kind = static_cast<HeldKind>(k);
            const int64_t left = in->max - (*out)[kind];
            if (left <= 0) continue;
            ASSIGN_OR_RETURN(int64_t n,
                             PurgeHeldLocked(agency, kind, cut[kind], left));
            (*out)[kind] += n;
          }
        }
        if (AddPurgeCounts(*out, &in->entry) == 0) return absl::OkStatus();
        return AppendLogLocked(&in->entry);
      },
      std::move(done));
}

void PostgresStore::Scrub(StoreDone<bool> done) {
  // PostgreSQL keeps a purged row's old version until VACUUM makes its
  // space reusable, and its write-ahead log until the server recycles the
  // segments; neither is overwritten on demand. VACUUM here is what the
  // store can ask for; the server's configuration decides the rest.
  absl::StatusOr<std::unique_ptr<pg::Connection>> c =
      pg::Connection::Open(conninfo_);
  if (!c.ok()) return done(c.status());
  absl::Status s = (*c)->Exec(
      "VACUUM inbox, referrals, case_handovers, summary_requests, consents, "
      "sealed_statements");
  if (!s.ok()) return done(s);
  done(true);
}

}  // namespace liaison
