#include "broker/store/case_rules.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "broker/basics/status_macros.h"
#include "broker/basics/time_format.h"
#include "broker/log/message_util.h"

namespace liaison {
namespace {

std::string OutcomeWord(v1::CaseOutcome outcome) {
  return std::string(
      absl::StripPrefix(v1::CaseOutcome_Name(outcome), "CASE_OUTCOME_"));
}

std::string ReasonWord(v1::DetachReason reason) {
  return std::string(
      absl::StripPrefix(v1::DetachReason_Name(reason), "DETACH_REASON_"));
}

}  // namespace

const v1::CaseAgency* AttachmentOf(const v1::Case& kase,
                                   absl::string_view agency_id) {
  for (const v1::CaseAgency& a : kase.agencies()) {
    if (a.agency_id() == agency_id) return &a;
  }
  return nullptr;
}

absl::Status CaseOpenFor(const v1::Case& kase, absl::string_view agency_id,
                         absl::string_view what) {
  if (kase.has_closed_at()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "case ", kase.case_id(), " was closed on ",
        Rfc3339(TimeOf(kase.closed_at())), " with outcome ",
        OutcomeWord(kase.outcome()), ", so no agency may ", what,
        " on it any more; open a new case with a referral if the concern "
        "returns"));
  }
  const v1::CaseAgency* mine = AttachmentOf(kase, agency_id);
  if (mine == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no case \"", kase.case_id(), "\" that your agency is attached to"));
  }
  if (mine->has_detached_at()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "your agency was detached from case ", kase.case_id(), " on ",
        Rfc3339(TimeOf(mine->detached_at())), " (",
        ReasonWord(mine->detach_reason()),
        "), which ended its part in the case, so it may not ", what,
        " on it; a referral to your agency on the case attaches it again"));
  }
  return absl::OkStatus();
}

absl::Status CheckMembership(const CaseMembership& row,
                             const std::string& agency_id,
                             const std::string& case_id,
                             const std::string& pseudonym,
                             absl::string_view what) {
  if (!row.found) {
    return absl::NotFoundError(absl::StrCat(
        "no case \"", case_id,
        "\" that your agency is attached to; check the case id, or leave "
        "case_id empty"));
  }
  v1::Case kase;
  kase.set_case_id(case_id);
  if (row.closed_at > 0) {
    SetTime(kase.mutable_closed_at(), absl::FromUnixMicros(row.closed_at));
    kase.set_outcome(static_cast<v1::CaseOutcome>(row.outcome));
  }
  v1::CaseAgency* mine = kase.add_agencies();
  mine->set_agency_id(agency_id);
  if (row.detached_at > 0) {
    SetTime(mine->mutable_detached_at(), absl::FromUnixMicros(row.detached_at));
    mine->set_detach_reason(static_cast<v1::DetachReason>(row.detach_reason));
  }
  RETURN_IF_ERROR(CaseOpenFor(kase, agency_id, what));
  // Cases opened before subjects were recorded have none to compare.
  if (!row.subject_pseudonym.empty() && row.subject_pseudonym != pseudonym) {
    return absl::InvalidArgumentError(absl::StrCat(
        "case ", case_id,
        " is about another person than the subject given; check the subject "
        "identifier or the case id"));
  }
  return absl::OkStatus();
}

absl::Status CheckAnswerable(const StoredSummaryRequest& stored,
                             const std::string& request_id) {
  if (stored.answered) {
    return absl::FailedPreconditionError(
        absl::StrCat("summary request ", request_id,
                     " was already answered; a request is answered once"));
  }
  if (stored.case_closed_at > 0) {
    v1::Case kase;
    kase.set_case_id(stored.case_id);
    SetTime(kase.mutable_closed_at(),
            absl::FromUnixMicros(stored.case_closed_at));
    kase.set_outcome(static_cast<v1::CaseOutcome>(stored.case_outcome));
    return CaseOpenFor(kase, stored.holder_agency_id,
                       "answer a summary request");
  }
  return absl::OkStatus();
}

absl::Status CheckCaseChange(const v1::Case& current,
                             const CaseChange& change) {
  const bool closing = change.outcome != v1::CASE_OUTCOME_UNSPECIFIED;
  if (absl::Status s = CaseOpenFor(current, change.agency_id,
                                   closing ? "close it" : "detach agencies");
      !s.ok()) {
    if (closing && current.has_closed_at()) {
      return absl::FailedPreconditionError(
          absl::StrCat("case ", current.case_id(), " was closed already, on ",
                       Rfc3339(TimeOf(current.closed_at())), " with outcome ",
                       OutcomeWord(current.outcome())));
    }
    return s;
  }
  const bool manager = current.manager_agency_id() == change.agency_id;
  if (closing) {
    if (!manager) {
      return absl::PermissionDeniedError(
          absl::StrCat("only the case manager (\"", current.manager_agency_id(),
                       "\") can close case ", current.case_id()));
    }
    return absl::OkStatus();
  }
  const v1::CaseAgency* target = AttachmentOf(current, change.detach_agency_id);
  if (!manager && change.detach_agency_id != change.agency_id) {
    return absl::PermissionDeniedError(absl::StrCat(
        "only the case manager (\"", current.manager_agency_id(),
        "\") can detach another agency from case ", current.case_id(),
        "; your agency can detach only itself"));
  }
  if (target == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("agency \"", Bounded(change.detach_agency_id),
                     "\" is not attached to case ", current.case_id()));
  }
  if (target->has_detached_at()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agency \"", target->agency_id(),
                     "\" was detached from case ", current.case_id(),
                     " already, on ", Rfc3339(TimeOf(target->detached_at()))));
  }
  if (target->agency_id() == current.manager_agency_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "agency \"", target->agency_id(), "\" manages case ", current.case_id(),
        "; hand the case over to another agency first, or close it"));
  }
  return absl::OkStatus();
}

absl::Status CheckHandover(const v1::Case& current,
                           const std::string& agency_id,
                           const std::string& to_agency_id) {
  RETURN_IF_ERROR(CaseOpenFor(current, agency_id, "hand it over"));
  if (current.manager_agency_id() != agency_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("only the case manager (\"", current.manager_agency_id(),
                     "\") can hand the case over"));
  }
  const v1::CaseAgency* to = AttachmentOf(current, to_agency_id);
  if (to == nullptr || to->has_detached_at()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "agency \"", Bounded(to_agency_id), "\" is not attached to case ",
        current.case_id(), "; a referral to it attaches it"));
  }
  return absl::OkStatus();
}

absl::Status CheckReferralParty(const v1::Referral& referral,
                                absl::string_view agency_id, bool as_sender) {
  const std::string& own =
      as_sender ? referral.sender_agency_id() : referral.recipient_agency_id();
  const std::string& other =
      as_sender ? referral.recipient_agency_id() : referral.sender_agency_id();
  if (own == agency_id) return absl::OkStatus();
  if (other == agency_id) {
    return absl::PermissionDeniedError(
        as_sender ? "only the sender of a referral can take it back; the "
                    "recipient declines or closes it with UpdateReferral"
                  : "only the recipient of a referral moves it through its "
                    "lifecycle; the sender follows it in its inbox");
  }
  return absl::NotFoundError(absl::StrCat("no referral \"",
                                          referral.referral_id(),
                                          "\" that your agency is a party to"));
}

}  // namespace liaison
