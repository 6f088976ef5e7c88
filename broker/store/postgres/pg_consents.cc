// The PostgreSQL store's summaries, consent registry and cases. Writes run
// on the commit thread, in the group's transaction; reads on the reader's.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"
#include "broker/store/case_rules.h"
#include "broker/store/postgres/pg_rows.h"
#include "broker/store/postgres/pg_store.h"

namespace liaison {

using pg::BoolParam;
using pg::Param;
using pg::Parse;
using pg::Result;
using pg::TimeParam;

// Cases.

absl::Status PostgresStore::CheckCaseMember(const std::string& agency_id,
                                            const std::string& case_id,
                                            const std::string& pseudonym,
                                            absl::string_view what) {
  ASSIGN_OR_RETURN(
      Result r,
      writer_.c->Run("SELECT c.subject_pseudonym, c.closed_at, c.outcome, "
                     "a.detached_at, a.detach_reason FROM cases c JOIN "
                     "case_agencies a ON a.case_id = c.case_id "
                     "WHERE c.case_id = $1 AND a.agency_id = $2",
                     {Param::Text(case_id), Param::Text(agency_id)}));
  CaseMembership m;
  if (r.rows() > 0) {
    m.found = true;
    m.subject_pseudonym = r.Text(0, 0);
    m.closed_at = r.Int(0, 1);
    m.outcome = r.Int(0, 2);
    m.detached_at = r.Int(0, 3);
    m.detach_reason = r.Int(0, 4);
  }
  return CheckMembership(m, agency_id, case_id, pseudonym, what);
}

absl::StatusOr<v1::Case> PostgresStore::LoadCase(pg::Connection& c,
                                                 const std::string& agency_id,
                                                 const std::string& case_id) {
  const absl::Status not_found = absl::NotFoundError(absl::StrCat(
      "no case \"", case_id, "\" that your agency is attached to"));
  ASSIGN_OR_RETURN(Result r,
                   c.Run("SELECT manager_agency_id, closed_at, outcome FROM "
                         "cases WHERE case_id = $1",
                         {Param::Text(case_id)}));
  if (r.rows() == 0) return not_found;
  v1::Case out;
  out.set_case_id(case_id);
  out.set_manager_agency_id(r.Text(0, 0));
  if (r.Int(0, 1) > 0) {
    SetTime(out.mutable_closed_at(), absl::FromUnixMicros(r.Int(0, 1)));
    out.set_outcome(static_cast<v1::CaseOutcome>(r.Int(0, 2)));
  }
  ASSIGN_OR_RETURN(Result agencies,
                   c.Run("SELECT agency_id, reason, attached_at, detached_at, "
                         "detach_reason FROM case_agencies WHERE case_id = $1 "
                         "ORDER BY attached_at, ord",
                         {Param::Text(case_id)}));
  bool attached = false;
  for (int row = 0; row < agencies.rows(); ++row) {
    v1::CaseAgency* a = out.add_agencies();
    a->set_agency_id(agencies.Text(row, 0));
    a->set_reason(agencies.Text(row, 1));
    a->mutable_attached_at()->set_seconds(agencies.Int(row, 2) / 1000000);
    if (agencies.Int(row, 3) > 0) {
      SetTime(a->mutable_detached_at(),
              absl::FromUnixMicros(agencies.Int(row, 3)));
      a->set_detach_reason(static_cast<v1::DetachReason>(agencies.Int(row, 4)));
    }
    attached = attached || a->agency_id() == agency_id;
  }
  if (!attached) return not_found;
  ASSIGN_OR_RETURN(Result handovers,
                   c.Run("SELECT body FROM case_handovers WHERE case_id = $1 "
                         "ORDER BY seq",
                         {Param::Text(case_id)}));
  for (int row = 0; row < handovers.rows(); ++row) {
    ASSIGN_OR_RETURN(
        *out.add_handovers(),
        Parse<v1::CaseHandover>(handovers.Bytes(row, 0), "case handover"));
  }
  return out;
}

void PostgresStore::GetCase(const std::string& agency_id,
                            const std::string& case_id,
                            StoreDone<v1::Case> done) {
  SubmitFor<v1::Case>(
      [agency_id, case_id](Session& s, v1::Case* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadCase(*s.c, agency_id, case_id));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::HandOverCase(const std::string& agency_id,
                                 const std::string& case_id,
                                 v1::CaseHandover handover,
                                 StoreDone<v1::Case> done) {
  auto h = std::make_shared<v1::CaseHandover>(std::move(handover));
  SubmitFor<v1::Case>(
      [agency_id, case_id, h](Session& s, v1::Case* out) -> absl::Status {
        // Locks the case, so two handovers cannot both start from it.
        RETURN_IF_ERROR(s.c->Run("SELECT 1 FROM cases WHERE case_id = $1 FOR "
                                 "UPDATE",
                                 {Param::Text(case_id)})
                            .status());
        ASSIGN_OR_RETURN(v1::Case current, LoadCase(*s.c, agency_id, case_id));
        RETURN_IF_ERROR(CheckHandover(current, agency_id, h->to_agency_id()));
        h->set_from_agency_id(agency_id);
        RETURN_IF_ERROR(
            s.c->Run(
                   "INSERT INTO case_handovers (case_id, seq, "
                   "from_agency_id, to_agency_id, body) VALUES ($1, $2, $3, "
                   "$4, $5)",
                   {Param::Text(case_id), Param::Int(current.handovers_size()),
                    Param::Text(agency_id), Param::Text(h->to_agency_id()),
                    Param::Bytes(h->SerializeAsString())})
                .status());
        RETURN_IF_ERROR(
            s.c->Run("UPDATE cases SET manager_agency_id = $2 "
                     "WHERE case_id = $1",
                     {Param::Text(case_id), Param::Text(h->to_agency_id())})
                .status());
        ASSIGN_OR_RETURN(*out, LoadCase(*s.c, agency_id, case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::ChangeCase(CaseChange change, StoreDone<v1::Case> done) {
  auto in = std::make_shared<CaseChange>(std::move(change));
  SubmitFor<v1::Case>(
      [this, in](Session& s, v1::Case* out) -> absl::Status {
        // Locks the case, so a closure and a detachment see each other.
        ASSIGN_OR_RETURN(Result locked,
                         s.c->Run("SELECT subject_pseudonym FROM cases WHERE "
                                  "case_id = $1 FOR UPDATE",
                                  {Param::Text(in->case_id)}));
        ASSIGN_OR_RETURN(v1::Case current,
                         LoadCase(*s.c, in->agency_id, in->case_id));
        RETURN_IF_ERROR(CheckCaseChange(current, *in));
        if (in->outcome != v1::CASE_OUTCOME_UNSPECIFIED) {
          RETURN_IF_ERROR(s.c->Run("UPDATE cases SET closed_at = $2, outcome "
                                   "= $3 WHERE case_id = $1",
                                   {Param::Text(in->case_id), TimeParam(in->at),
                                    Param::Int(in->outcome)})
                              .status());
        } else {
          RETURN_IF_ERROR(
              s.c->Run("UPDATE case_agencies SET detached_at = $3, "
                       "detach_reason = $4 WHERE case_id = $1 AND agency_id "
                       "= $2",
                       {Param::Text(in->case_id),
                        Param::Text(in->detach_agency_id), TimeParam(in->at),
                        Param::Int(in->detach_reason)})
                  .status());
        }
        in->entry.set_subject_pseudonym(locked.Text(0, 0));
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        ASSIGN_OR_RETURN(*out, LoadCase(*s.c, in->agency_id, in->case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

// Need-to-know summaries.

void PostgresStore::CommitSummaryPush(SummaryPush push,
                                      StoreDone<v1::PushSummaryResponse> done) {
  auto in = std::make_shared<SummaryPush>(std::move(push));
  SubmitFor<v1::PushSummaryResponse>(
      [this, in](Session&, v1::PushSummaryResponse* out) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in->sender_agency_id, in->idempotency_key,
                                     in->request_digest, "summary push"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(*out,
                           Parse<v1::PushSummaryResponse>(*seen, "response"));
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

void PostgresStore::CommitSummaryRequest(
    NewSummaryRequest request, StoreDone<v1::RequestSummaryResponse> done) {
  auto in = std::make_shared<NewSummaryRequest>(std::move(request));
  SubmitFor<v1::RequestSummaryResponse>(
      [this, in](Session& s, v1::RequestSummaryResponse* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::optional<std::string> seen,
            SeenRequest(in->requester_agency_id, in->idempotency_key,
                        in->request_digest, "summary request"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, Parse<v1::RequestSummaryResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        if (!in->case_id.empty()) {
          RETURN_IF_ERROR(CheckCaseMember(in->requester_agency_id, in->case_id,
                                          in->subject_pseudonym,
                                          "request a summary"));
        }
        RETURN_IF_ERROR(
            s.c->Run(
                   "INSERT INTO summary_requests (request_id, "
                   "requester_agency_id, holder_agency_id, case_id, "
                   "relationship, body, created_at) VALUES ($1, $2, $3, $4, "
                   "$5, $6, $7)",
                   {Param::Text(in->request.request_id()),
                    Param::Text(in->requester_agency_id),
                    Param::Text(in->holder_agency_id), Param::Text(in->case_id),
                    BoolParam(in->legitimate_relationship),
                    Param::Bytes(in->request.SerializeAsString()),
                    TimeParam(
                        absl::FromUnixSeconds(in->entry.time().seconds()))})
                .status());
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

absl::StatusOr<StoredSummaryRequest> PostgresStore::LoadSummaryRequest(
    pg::Connection& c, const std::string& holder_agency_id,
    const std::string& request_id) {
  ASSIGN_OR_RETURN(
      Result r,
      c.Run("SELECT s.case_id, s.relationship, s.body, s.answered_at, "
            "COALESCE(c.closed_at, 0), COALESCE(c.outcome, 0) FROM "
            "summary_requests s LEFT JOIN cases c ON c.case_id = s.case_id "
            "WHERE s.request_id = $1 AND s.holder_agency_id = $2",
            {Param::Text(request_id), Param::Text(holder_agency_id)}));
  if (r.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("no summary request \"", request_id,
                                            "\" was addressed to your agency"));
  }
  StoredSummaryRequest out;
  out.holder_agency_id = holder_agency_id;
  out.case_id = r.Text(0, 0);
  out.legitimate_relationship = pg::Bool(r, 0, 1);
  ASSIGN_OR_RETURN(out.request, Parse<v1::SummaryRequestReceived>(
                                    r.Bytes(0, 2), "summary request"));
  out.answered = r.Int(0, 3) != 0;
  out.case_closed_at = r.Int(0, 4);
  out.case_outcome = r.Int(0, 5);
  return out;
}

void PostgresStore::GetSummaryRequest(const std::string& holder_agency_id,
                                      const std::string& request_id,
                                      StoreDone<StoredSummaryRequest> done) {
  SubmitFor<StoredSummaryRequest>(
      [holder_agency_id, request_id](
          Session& s, StoredSummaryRequest* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            *out, LoadSummaryRequest(*s.c, holder_agency_id, request_id));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::CommitSummaryAnswer(SummaryAnswer answer,
                                        StoreDone<uint64_t> done) {
  auto in = std::make_shared<SummaryAnswer>(std::move(answer));
  SubmitFor<uint64_t>(
      [this, in](Session& s, uint64_t* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StoredSummaryRequest stored,
            LoadSummaryRequest(*s.c, in->holder_agency_id, in->request_id));
        RETURN_IF_ERROR(CheckAnswerable(stored, in->request_id));
        RETURN_IF_ERROR(
            s.c->Run("UPDATE summary_requests SET answered_at = $2 WHERE "
                     "request_id = $1",
                     {Param::Text(in->request_id),
                      TimeParam(
                          absl::FromUnixSeconds(in->entry.time().seconds()))})
                .status());
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

// The consent registry.

absl::StatusOr<StoredConsent> PostgresStore::LoadConsent(
    pg::Connection& c, const std::string& consent_id) {
  ASSIGN_OR_RETURN(Result r, c.Run("SELECT body, subject_pseudonym FROM "
                                   "consents WHERE consent_id = $1",
                                   {Param::Text(consent_id)}));
  if (r.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("no consent \"", consent_id,
                                            "\" that your agency may see"));
  }
  StoredConsent out;
  ASSIGN_OR_RETURN(out.consent, Parse<v1::Consent>(r.Bytes(0, 0), "consent"));
  out.subject_pseudonym = r.Text(0, 1);
  return out;
}

absl::Status PostgresStore::RecordConsentUseLocked(
    const v1::LogEntry& entry, const std::string& agency_id,
    const std::string& message_id) {
  if (!entry.allowed() || entry.consent_id().empty()) return absl::OkStatus();
  // FOR SHARE: a withdrawal through another broker waits for this commit,
  // and then recalls what it delivered.
  ASSIGN_OR_RETURN(Result r,
                   writer_.c->Run("SELECT withdrawn_at FROM consents WHERE "
                                  "consent_id = $1 FOR SHARE",
                                  {Param::Text(entry.consent_id())}));
  if (r.rows() == 0 || r.Int(0, 0) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "consent \"", entry.consent_id(),
        "\" was withdrawn while the disclosure was being decided; nothing "
        "was disclosed"));
  }
  return writer_.c
      ->Run(
          "INSERT INTO consent_uses (consent_id, agency_id, message_id) "
          "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          {Param::Text(entry.consent_id()), Param::Text(agency_id),
           Param::Text(message_id)})
      .status();
}

void PostgresStore::RecordConsent(NewConsent consent,
                                  StoreDone<v1::Consent> done) {
  auto in = std::make_shared<NewConsent>(std::move(consent));
  SubmitFor<v1::Consent>(
      [this, in](Session& s, v1::Consent* out) -> absl::Status {
        if (!in->idempotency_key.empty()) {
          ASSIGN_OR_RETURN(std::optional<std::string> seen,
                           SeenRequest(in->agency_id, in->idempotency_key,
                                       in->request_digest, "consent"));
          if (seen.has_value()) {
            ASSIGN_OR_RETURN(StoredConsent first, LoadConsent(*s.c, *seen));
            *out = std::move(first.consent);
            return absl::OkStatus();
          }
        }
        const v1::Consent& c = in->consent;
        RETURN_IF_ERROR(
            s.c->Run(
                   "INSERT INTO consents (consent_id, recorded_by, "
                   "subject_pseudonym, refused, body, ends_at) VALUES ($1, "
                   "$2, $3, $4, $5, $6)",
                   {Param::Text(c.consent_id()),
                    Param::Text(c.recorded_by_agency_id()),
                    Param::Text(in->subject_pseudonym), BoolParam(c.refused()),
                    Param::Bytes(c.SerializeAsString()),
                    Param::Int(c.has_valid_until()
                                   ? absl::ToUnixMicros(TimeOf(c.valid_until()))
                                   : 0)})
                .status());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        *out = c;
        if (in->idempotency_key.empty()) return absl::OkStatus();
        // The remembered response is the consent's id.
        return RememberRequest(in->agency_id, in->idempotency_key,
                               in->request_digest, c.consent_id());
      },
      std::move(done));
}

void PostgresStore::GetConsent(const std::string& consent_id,
                               StoreDone<StoredConsent> done) {
  SubmitFor<StoredConsent>(
      [consent_id](Session& s, StoredConsent* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadConsent(*s.c, consent_id));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::LoadConsentFacts(const std::string& consent_id,
                                     const std::string& subject_pseudonym,
                                     StoreDone<ConsentFacts> done) {
  SubmitFor<ConsentFacts>(
      [consent_id, subject_pseudonym](Session& s,
                                      ConsentFacts* out) -> absl::Status {
        if (!consent_id.empty()) {
          absl::StatusOr<StoredConsent> c = LoadConsent(*s.c, consent_id);
          if (c.ok()) {
            out->consent = *std::move(c);
          } else if (!absl::IsNotFound(c.status())) {
            return c.status();
          }
        }
        ASSIGN_OR_RETURN(Result r,
                         s.c->Run("SELECT body FROM consents WHERE "
                                  "subject_pseudonym = $1 AND refused ORDER "
                                  "BY ord",
                                  {Param::Text(subject_pseudonym)}));
        for (int row = 0; row < r.rows(); ++row) {
          ASSIGN_OR_RETURN(v1::Consent refusal,
                           Parse<v1::Consent>(r.Bytes(row, 0), "consent"));
          out->refusals.push_back(std::move(refusal));
        }
        return absl::OkStatus();
      },
      // On the reader: the commit checks again that the consent was not
      // withdrawn meanwhile.
      std::move(done), /*read=*/true);
}

void PostgresStore::WithdrawConsent(ConsentWithdrawal withdrawal,
                                    StoreDone<WithdrawnConsent> done) {
  auto in = std::make_shared<ConsentWithdrawal>(std::move(withdrawal));
  SubmitFor<WithdrawnConsent>(
      [this, in](Session& s, WithdrawnConsent* out) -> absl::Status {
        RETURN_IF_ERROR(s.c->Run("SELECT 1 FROM consents WHERE consent_id = "
                                 "$1 FOR UPDATE",
                                 {Param::Text(in->consent_id)})
                            .status());
        ASSIGN_OR_RETURN(StoredConsent stored,
                         LoadConsent(*s.c, in->consent_id));
        v1::Consent& c = stored.consent;
        if (c.has_withdrawn_at()) {
          out->consent = std::move(c);
          return absl::OkStatus();
        }
        c.mutable_withdrawn_at()->set_seconds(absl::ToUnixSeconds(in->at));
        c.set_withdrawal_reason(in->reason);
        RETURN_IF_ERROR(
            s.c->Run("UPDATE consents SET body = $2, withdrawn_at "
                     "= $3 WHERE consent_id = $1",
                     {Param::Text(in->consent_id),
                      Param::Bytes(c.SerializeAsString()), TimeParam(in->at)})
                .status());
        ASSIGN_OR_RETURN(Result uses,
                         s.c->Run("SELECT agency_id, message_id FROM "
                                  "consent_uses WHERE consent_id = $1 ORDER "
                                  "BY agency_id, ord",
                                  {Param::Text(in->consent_id)}));
        std::vector<std::pair<std::string, std::vector<std::string>>> by_agency;
        for (int row = 0; row < uses.rows(); ++row) {
          if (by_agency.empty() ||
              by_agency.back().first != uses.Text(row, 0)) {
            by_agency.emplace_back(uses.Text(row, 0),
                                   std::vector<std::string>());
          }
          by_agency.back().second.push_back(uses.Text(row, 1));
        }
        StoreRules::RecallPlan plan =
            rules_->PlanRecalls(c, in->entry, by_agency, in->at);
        RETURN_IF_ERROR(AppendLogLocked(&plan.withdrawal));
        for (StoreRules::Recall& recall : plan.recalls) {
          RETURN_IF_ERROR(EnqueueLocked(recall.agency_id, "", "", recall.notice,
                                        in->notice_expires_at));
          RETURN_IF_ERROR(AppendLogLocked(&recall.entry));
          out->recalled.push_back(recall.agency_id);
        }
        out->consent = std::move(c);
        return absl::OkStatus();
      },
      std::move(done));
}

}  // namespace liaison
