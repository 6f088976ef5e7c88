// The SQLite store's need-to-know summaries: pushes, requests and answers.
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
#include "broker/store/sqlite/sqlite_log.h"
#include "broker/store/sqlite/sqlite_query.h"
#include "broker/store/sqlite/sqlite_store.h"

namespace liaison {

using sqlite::ParseBlob;
using sqlite::Query;
using sqlite::SqlError;
using sqlite::StatementCache;

absl::Status SqliteStore::CheckCaseMember(const std::string& agency_id,
                                          const std::string& case_id,
                                          const std::string& pseudonym,
                                          absl::string_view what) {
  ASSIGN_OR_RETURN(
      StatementCache::Use select,
      statements_->Get("SELECT c.subject_pseudonym, c.closed_at, c.outcome, "
                       "a.detached_at, a.detach_reason FROM cases c JOIN "
                       "case_agencies a ON a.case_id=c.case_id WHERE "
                       "c.case_id=?1 AND a.agency_id=?2"));
  ASSIGN_OR_RETURN(bool row,
                   select->Bind(1, case_id).Bind(2, agency_id).Step());
  CaseMembership m;
  if (row) {
    m.found = true;
    m.subject_pseudonym = select->Text(0);
    m.closed_at = select->Int(1);
    m.outcome = select->Int(2);
    m.detached_at = select->Int(3);
    m.detach_reason = select->Int(4);
  }
  return CheckMembership(m, agency_id, case_id, pseudonym, what);
}

void SqliteStore::CommitSummaryPush(SummaryPush push,
                                    StoreDone<v1::PushSummaryResponse> done) {
  auto in = std::make_shared<SummaryPush>(std::move(push));
  SubmitFor<v1::PushSummaryResponse>(
      [this, in](v1::PushSummaryResponse* out) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in->sender_agency_id, in->idempotency_key,
                                     in->request_digest, "summary push"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, ParseBlob<v1::PushSummaryResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        RETURN_IF_ERROR(CheckCaseMember(in->sender_agency_id, in->case_id,
                                        in->subject_pseudonym,
                                        "push a summary"));
        for (SummaryPush::Outcome& o : in->outcomes) {
          RETURN_IF_ERROR(AppendLogLocked(&o.entry));
          if (o.delivery.has_value()) {
            RETURN_IF_ERROR(EnqueueLocked(o.agency_id, in->sender_agency_id, "",
                                          *o.delivery, in->expires_at));
            RETURN_IF_ERROR(RecordConsentUseLocked(o.entry, o.agency_id,
                                                   o.delivery->message_id()));
          }
        }
        RETURN_IF_ERROR(EnqueueNoticesLocked(in->notices, "", in->expires_at));
        *out = in->response;
        return RememberRequest(in->sender_agency_id, in->idempotency_key,
                               in->request_digest, out->SerializeAsString());
      },
      std::move(done));
}

void SqliteStore::CommitSummaryRequest(
    NewSummaryRequest request, StoreDone<v1::RequestSummaryResponse> done) {
  auto in = std::make_shared<NewSummaryRequest>(std::move(request));
  SubmitFor<v1::RequestSummaryResponse>(
      [this, in](v1::RequestSummaryResponse* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::optional<std::string> seen,
            SeenRequest(in->requester_agency_id, in->idempotency_key,
                        in->request_digest, "summary request"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, ParseBlob<v1::RequestSummaryResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        if (!in->case_id.empty()) {
          RETURN_IF_ERROR(CheckCaseMember(in->requester_agency_id, in->case_id,
                                          in->subject_pseudonym,
                                          "request a summary"));
        }
        const absl::Time now =
            absl::FromUnixSeconds(in->entry.time().seconds());
        ASSIGN_OR_RETURN(
            StatementCache::Use insert,
            statements_->Get("INSERT INTO summary_requests (request_id, "
                             "requester_agency_id, holder_agency_id, case_id, "
                             "relationship, body, created_at) VALUES "
                             "(?1,?2,?3,?4,?5,?6,?7)"));
        RETURN_IF_ERROR(insert->Bind(1, in->request.request_id())
                            .Bind(2, in->requester_agency_id)
                            .Bind(3, in->holder_agency_id)
                            .Bind(4, in->case_id)
                            .Bind(5, int64_t{in->legitimate_relationship})
                            .BindBlob(6, in->request.SerializeAsString())
                            .Bind(7, now)
                            .Run());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        RETURN_IF_ERROR(EnqueueLocked(in->holder_agency_id,
                                      in->requester_agency_id, "", in->delivery,
                                      in->expires_at));
        *out = in->response;
        return RememberRequest(in->requester_agency_id, in->idempotency_key,
                               in->request_digest, out->SerializeAsString());
      },
      std::move(done));
}

absl::StatusOr<StoredSummaryRequest> SqliteStore::LoadSummaryRequest(
    const std::string& holder_agency_id, const std::string& request_id) {
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT s.case_id, s.relationship, s.body, "
                                    "s.answered_at, COALESCE(c.closed_at, 0), "
                                    "COALESCE(c.outcome, 0) FROM "
                                    "summary_requests s LEFT JOIN cases c ON "
                                    "c.case_id=s.case_id WHERE "
                                    "s.request_id=?1 AND "
                                    "s.holder_agency_id=?2"));
  ASSIGN_OR_RETURN(
      bool row, select->Bind(1, request_id).Bind(2, holder_agency_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no summary request \"", request_id,
                                            "\" was addressed to your agency"));
  }
  StoredSummaryRequest out;
  out.holder_agency_id = holder_agency_id;
  out.case_id = select->Text(0);
  out.legitimate_relationship = select->Int(1) != 0;
  ASSIGN_OR_RETURN(out.request, ParseBlob<v1::SummaryRequestReceived>(
                                    select->Blob(2), "summary request"));
  out.answered = select->Int(3) != 0;
  out.case_closed_at = select->Int(4);
  out.case_outcome = select->Int(5);
  return out;
}

void SqliteStore::GetSummaryRequest(const std::string& holder_agency_id,
                                    const std::string& request_id,
                                    StoreDone<StoredSummaryRequest> done) {
  SubmitFor<StoredSummaryRequest>(
      [this, holder_agency_id,
       request_id](StoredSummaryRequest* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out,
                         LoadSummaryRequest(holder_agency_id, request_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::CommitSummaryAnswer(SummaryAnswer answer,
                                      StoreDone<uint64_t> done) {
  auto in = std::make_shared<SummaryAnswer>(std::move(answer));
  SubmitFor<uint64_t>(
      [this, in](uint64_t* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StoredSummaryRequest stored,
            LoadSummaryRequest(in->holder_agency_id, in->request_id));
        RETURN_IF_ERROR(CheckAnswerable(stored, in->request_id));
        const absl::Time now =
            absl::FromUnixSeconds(in->entry.time().seconds());
        ASSIGN_OR_RETURN(
            StatementCache::Use mark,
            statements_->Get("UPDATE summary_requests SET "
                             "answered_at=?2 WHERE request_id=?1"));
        RETURN_IF_ERROR(mark->Bind(1, in->request_id).Bind(2, now).Run());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        RETURN_IF_ERROR(EnqueueLocked(in->requester_agency_id,
                                      in->holder_agency_id, "", in->delivery,
                                      in->expires_at));
        RETURN_IF_ERROR(RecordConsentUseLocked(
            in->entry, in->requester_agency_id, in->delivery.message_id()));
        RETURN_IF_ERROR(EnqueueNoticesLocked(in->notices, "", in->expires_at));
        *out = in->entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

absl::Status SqliteStore::EnqueueNoticesLocked(
    const std::vector<QueuedNotice>& notices, const std::string& referral_id,
    absl::Time expires_at) {
  for (const QueuedNotice& n : notices) {
    // No sender: the broker's own notices expire silently.
    RETURN_IF_ERROR(
        EnqueueLocked(n.agency_id, "", referral_id, n.message, expires_at));
  }
  return absl::OkStatus();
}

}  // namespace liaison
