// The SQLite store's consent registry and cases. Runs on the commit thread
// (the consent facts a decision needs, on the reader's).
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

// The consent registry.

absl::StatusOr<StoredConsent> SqliteStore::LoadConsent(
    const std::string& consent_id, StatementCache* statements) {
  if (statements == nullptr) statements = statements_.get();
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements->Get("SELECT body, subject_pseudonym FROM "
                                   "consents WHERE consent_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, consent_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no consent \"", consent_id,
                                            "\" that your agency may see"));
  }
  StoredConsent out;
  ASSIGN_OR_RETURN(out.consent,
                   ParseBlob<v1::Consent>(select->Blob(0), "consent"));
  out.subject_pseudonym = select->Text(1);
  return out;
}

absl::Status SqliteStore::RecordConsentUseLocked(
    const v1::LogEntry& entry, const std::string& agency_id,
    const std::string& message_id) {
  if (!entry.allowed() || entry.consent_id().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT withdrawn_at FROM consents WHERE "
                                    "consent_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, entry.consent_id()).Step());
  if (!row || select->Int(0) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "consent \"", entry.consent_id(),
        "\" was withdrawn while the disclosure was being decided; nothing "
        "was disclosed"));
  }
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_->Get("INSERT OR IGNORE INTO consent_uses "
                                    "(consent_id, agency_id, message_id) "
                                    "VALUES (?1, ?2, ?3)"));
  return insert->Bind(1, entry.consent_id())
      .Bind(2, agency_id)
      .Bind(3, message_id)
      .Run();
}

void SqliteStore::RecordConsent(NewConsent consent,
                                StoreDone<v1::Consent> done) {
  auto in = std::make_shared<NewConsent>(std::move(consent));
  SubmitFor<v1::Consent>(
      [this, in](v1::Consent* out) -> absl::Status {
        if (!in->idempotency_key.empty()) {
          ASSIGN_OR_RETURN(std::optional<std::string> seen,
                           SeenRequest(in->agency_id, in->idempotency_key,
                                       in->request_digest, "consent"));
          if (seen.has_value()) {
            ASSIGN_OR_RETURN(StoredConsent first, LoadConsent(*seen));
            *out = std::move(first.consent);
            return absl::OkStatus();
          }
        }
        const v1::Consent& c = in->consent;
        ASSIGN_OR_RETURN(StatementCache::Use insert,
                         statements_->Get("INSERT INTO consents (consent_id, "
                                          "recorded_by, subject_pseudonym, "
                                          "refused, body, ends_at) VALUES "
                                          "(?1,?2,?3,?4,?5,?6)"));
        RETURN_IF_ERROR(
            insert->Bind(1, c.consent_id())
                .Bind(2, c.recorded_by_agency_id())
                .Bind(3, in->subject_pseudonym)
                .Bind(4, int64_t{c.refused() ? 1 : 0})
                .BindBlob(5, c.SerializeAsString())
                .Bind(6, c.has_valid_until()
                             ? absl::ToUnixMicros(TimeOf(c.valid_until()))
                             : int64_t{0})
                .Run());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        *out = c;
        if (in->idempotency_key.empty()) return absl::OkStatus();
        // The remembered response is the consent's id.
        return RememberRequest(in->agency_id, in->idempotency_key,
                               in->request_digest, c.consent_id());
      },
      std::move(done));
}

void SqliteStore::GetConsent(const std::string& consent_id,
                             StoreDone<StoredConsent> done) {
  SubmitFor<StoredConsent>(
      [this, consent_id](StoredConsent* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadConsent(consent_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::LoadConsentFacts(const std::string& consent_id,
                                   const std::string& subject_pseudonym,
                                   StoreDone<ConsentFacts> done) {
  SubmitFor<ConsentFacts>(
      [this, consent_id, subject_pseudonym](ConsentFacts* out) -> absl::Status {
        if (!consent_id.empty()) {
          absl::StatusOr<StoredConsent> c =
              LoadConsent(consent_id, reader_statements_.get());
          if (c.ok()) {
            out->consent = *std::move(c);
          } else if (!absl::IsNotFound(c.status())) {
            return c.status();
          }
        }
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            reader_statements_->Get("SELECT body FROM consents WHERE "
                                    "subject_pseudonym=?1 AND refused=1 "
                                    "ORDER BY rowid"));
        select->Bind(1, subject_pseudonym);
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          ASSIGN_OR_RETURN(v1::Consent refusal,
                           ParseBlob<v1::Consent>(select->Blob(0), "consent"));
          out->refusals.push_back(std::move(refusal));
        }
        return absl::OkStatus();
      },
      // On the reader: what is decided with these facts then runs off the
      // commit thread, and the commit checks again that the consent was
      // not withdrawn meanwhile.
      std::move(done), /*read=*/true);
}

void SqliteStore::WithdrawConsent(ConsentWithdrawal withdrawal,
                                  StoreDone<WithdrawnConsent> done) {
  auto in = std::make_shared<ConsentWithdrawal>(std::move(withdrawal));
  SubmitFor<WithdrawnConsent>(
      [this, in](WithdrawnConsent* out) -> absl::Status {
        ASSIGN_OR_RETURN(StoredConsent stored, LoadConsent(in->consent_id));
        v1::Consent& c = stored.consent;
        if (c.has_withdrawn_at()) {
          out->consent = std::move(c);
          return absl::OkStatus();
        }
        c.mutable_withdrawn_at()->set_seconds(absl::ToUnixSeconds(in->at));
        c.set_withdrawal_reason(in->reason);
        ASSIGN_OR_RETURN(StatementCache::Use update,
                         statements_->Get("UPDATE consents SET body=?2, "
                                          "withdrawn_at=?3 WHERE "
                                          "consent_id=?1"));
        RETURN_IF_ERROR(update->Bind(1, in->consent_id)
                            .BindBlob(2, c.SerializeAsString())
                            .Bind(3, in->at)
                            .Run());
        ASSIGN_OR_RETURN(StatementCache::Use uses,
                         statements_->Get("SELECT agency_id, message_id FROM "
                                          "consent_uses WHERE consent_id=?1 "
                                          "ORDER BY agency_id, rowid"));
        uses->Bind(1, in->consent_id);
        std::vector<std::pair<std::string, std::vector<std::string>>> by_agency;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, uses->Step());
          if (!row) break;
          if (by_agency.empty() || by_agency.back().first != uses->Text(0)) {
            by_agency.emplace_back(uses->Text(0), std::vector<std::string>());
          }
          by_agency.back().second.push_back(uses->Text(1));
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

absl::StatusOr<v1::Case> SqliteStore::LoadCase(const std::string& agency_id,
                                               const std::string& case_id) {
  const absl::Status not_found = absl::NotFoundError(absl::StrCat(
      "no case \"", case_id, "\" that your agency is attached to"));
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT manager_agency_id, closed_at, "
                                    "outcome FROM cases WHERE case_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, case_id).Step());
  if (!row) return not_found;
  v1::Case out;
  out.set_case_id(case_id);
  out.set_manager_agency_id(select->Text(0));
  if (select->Int(1) > 0) {
    SetTime(out.mutable_closed_at(), absl::FromUnixMicros(select->Int(1)));
    out.set_outcome(static_cast<v1::CaseOutcome>(select->Int(2)));
  }
  ASSIGN_OR_RETURN(
      StatementCache::Use agencies,
      statements_->Get("SELECT agency_id, reason, attached_at, detached_at, "
                       "detach_reason FROM case_agencies WHERE case_id=?1 "
                       "ORDER BY attached_at, rowid"));
  agencies->Bind(1, case_id);
  bool attached = false;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, agencies->Step());
    if (!more) break;
    v1::CaseAgency* a = out.add_agencies();
    a->set_agency_id(agencies->Text(0));
    a->set_reason(agencies->Text(1));
    a->mutable_attached_at()->set_seconds(agencies->Int(2) / 1000000);
    if (agencies->Int(3) > 0) {
      SetTime(a->mutable_detached_at(), absl::FromUnixMicros(agencies->Int(3)));
      a->set_detach_reason(static_cast<v1::DetachReason>(agencies->Int(4)));
    }
    attached = attached || a->agency_id() == agency_id;
  }
  if (!attached) return not_found;
  ASSIGN_OR_RETURN(StatementCache::Use handovers,
                   statements_->Get("SELECT body FROM case_handovers WHERE "
                                    "case_id=?1 ORDER BY seq"));
  handovers->Bind(1, case_id);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, handovers->Step());
    if (!more) break;
    ASSIGN_OR_RETURN(
        *out.add_handovers(),
        ParseBlob<v1::CaseHandover>(handovers->Blob(0), "case handover"));
  }
  return out;
}

void SqliteStore::GetCase(const std::string& agency_id,
                          const std::string& case_id,
                          StoreDone<v1::Case> done) {
  SubmitFor<v1::Case>(
      [this, agency_id, case_id](v1::Case* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadCase(agency_id, case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::HandOverCase(const std::string& agency_id,
                               const std::string& case_id,
                               v1::CaseHandover handover,
                               StoreDone<v1::Case> done) {
  auto h = std::make_shared<v1::CaseHandover>(std::move(handover));
  SubmitFor<v1::Case>(
      [this, agency_id, case_id, h](v1::Case* out) -> absl::Status {
        ASSIGN_OR_RETURN(v1::Case current, LoadCase(agency_id, case_id));
        RETURN_IF_ERROR(CheckHandover(current, agency_id, h->to_agency_id()));
        h->set_from_agency_id(agency_id);
        ASSIGN_OR_RETURN(
            StatementCache::Use insert,
            statements_->Get("INSERT INTO case_handovers (case_id, "
                             "seq, from_agency_id, to_agency_id, "
                             "body) VALUES (?1, ?2, ?3, ?4, ?5)"));
        RETURN_IF_ERROR(insert->Bind(1, case_id)
                            .Bind(2, int64_t{current.handovers_size()})
                            .Bind(3, agency_id)
                            .Bind(4, h->to_agency_id())
                            .BindBlob(5, h->SerializeAsString())
                            .Run());
        ASSIGN_OR_RETURN(
            StatementCache::Use update,
            statements_->Get("UPDATE cases SET manager_agency_id=?2 "
                             "WHERE case_id=?1"));
        RETURN_IF_ERROR(
            update->Bind(1, case_id).Bind(2, h->to_agency_id()).Run());
        ASSIGN_OR_RETURN(*out, LoadCase(agency_id, case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::ChangeCase(CaseChange change, StoreDone<v1::Case> done) {
  auto in = std::make_shared<CaseChange>(std::move(change));
  SubmitFor<v1::Case>(
      [this, in](v1::Case* out) -> absl::Status {
        ASSIGN_OR_RETURN(v1::Case current,
                         LoadCase(in->agency_id, in->case_id));
        RETURN_IF_ERROR(CheckCaseChange(current, *in));
        if (in->outcome != v1::CASE_OUTCOME_UNSPECIFIED) {
          ASSIGN_OR_RETURN(StatementCache::Use close,
                           statements_->Get("UPDATE cases SET closed_at=?2, "
                                            "outcome=?3 WHERE case_id=?1"));
          RETURN_IF_ERROR(close->Bind(1, in->case_id)
                              .Bind(2, in->at)
                              .Bind(3, int64_t{in->outcome})
                              .Run());
        } else {
          ASSIGN_OR_RETURN(
              StatementCache::Use detach,
              statements_->Get("UPDATE case_agencies SET detached_at=?3, "
                               "detach_reason=?4 WHERE case_id=?1 AND "
                               "agency_id=?2"));
          RETURN_IF_ERROR(detach->Bind(1, in->case_id)
                              .Bind(2, in->detach_agency_id)
                              .Bind(3, in->at)
                              .Bind(4, int64_t{in->detach_reason})
                              .Run());
        }
        ASSIGN_OR_RETURN(
            StatementCache::Use subject,
            statements_->Get("SELECT subject_pseudonym FROM cases WHERE "
                             "case_id=?1"));
        ASSIGN_OR_RETURN(bool row, subject->Bind(1, in->case_id).Step());
        if (row) in->entry.set_subject_pseudonym(subject->Text(0));
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        ASSIGN_OR_RETURN(*out, LoadCase(in->agency_id, in->case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

}  // namespace liaison
