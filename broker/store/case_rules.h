// When a case still gives an agency a legitimate relationship, and who may
// close it or detach an agency from it (DESIGN.md rule 10): written once,
// for every backend and for the services that check before deciding.
#ifndef LIAISON_BROKER_STORE_CASE_RULES_H_
#define LIAISON_BROKER_STORE_CASE_RULES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "broker/store/store.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {

// The attachment of `agency_id` to `kase`; nullptr when it was never
// attached.
const v1::CaseAgency* AttachmentOf(const v1::Case& kase,
                                   absl::string_view agency_id);

// OK while `kase` is open and `agency_id` attached to it. Otherwise
// FAILED_PRECONDITION naming the closure and its outcome, or
// PERMISSION_DENIED naming the detachment and its reason; `what` is the
// refused act, e.g. "push a summary".
absl::Status CaseOpenFor(const v1::Case& kase, absl::string_view agency_id,
                         absl::string_view what);

// One agency's attachment to a case as a backend reads it to check that
// the agency may act on the case. Times are microseconds since the epoch,
// 0 for none.
struct CaseMembership {
  // False when there is no such case or the agency was never attached.
  bool found = false;
  std::string subject_pseudonym;
  int64_t closed_at = 0;
  int64_t outcome = 0;
  int64_t detached_at = 0;
  int64_t detach_reason = 0;
};

// OK when `row` lets `agency_id` `what` on case `case_id` about the
// subject with `pseudonym`: NOT_FOUND when not attached (or no such
// case), CaseOpenFor's errors when closed or detached, INVALID_ARGUMENT
// for another subject.
absl::Status CheckMembership(const CaseMembership& row,
                             const std::string& agency_id,
                             const std::string& case_id,
                             const std::string& pseudonym,
                             absl::string_view what);

// OK when `stored` may still be answered: FAILED_PRECONDITION when it was
// answered already, or when its case was closed since it was made.
absl::Status CheckAnswerable(const StoredSummaryRequest& stored,
                             const std::string& request_id);

// Whether `change` may be made to `current` (the case as loaded, with every
// attachment): the manager closes an open case; the manager detaches any
// other attached agency, and an agency other than the manager itself.
absl::Status CheckCaseChange(const v1::Case& current, const CaseChange& change);

// Whether `agency_id` may act on `referral` as its sender (`as_sender`:
// take it back) or as its recipient (move it through its lifecycle):
// PERMISSION_DENIED for the other party, saying who may; NOT_FOUND for an
// agency that is neither, so ids reveal nothing.
absl::Status CheckReferralParty(const v1::Referral& referral,
                                absl::string_view agency_id, bool as_sender);

// Whether `agency_id` may hand `current` over to `to_agency_id`: only the
// manager of an open case (PERMISSION_DENIED), only to an agency attached
// and not detached (FAILED_PRECONDITION).
absl::Status CheckHandover(const v1::Case& current,
                           const std::string& agency_id,
                           const std::string& to_agency_id);

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_CASE_RULES_H_
