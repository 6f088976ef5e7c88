// The referral lifecycle (DESIGN.md section 5): SENT, DELIVERED,
// ACKNOWLEDGED, then ACCEPTED, DECLINED or INFO_REQUESTED, then CLOSED.
// Pure rules; the store applies them inside its transactions.
#ifndef LIAISON_BROKER_REFERRAL_LIFECYCLE_H_
#define LIAISON_BROKER_REFERRAL_LIFECYCLE_H_

#include "absl/status/status.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {

// Whether the recipient may move a referral from `from` to `to` with
// `detail`. FAILED_PRECONDITION for a move the lifecycle does not allow,
// INVALID_ARGUMENT for a target the recipient cannot set or a missing
// reason (DECLINED), question (INFO_REQUESTED) or outcome (CLOSED).
absl::Status CheckRecipientTransition(v1::ReferralStatus from,
                                      v1::ReferralStatus to,
                                      const std::string& detail);

// A recipient's change as the sender may see it at `level` (the feedback
// decision's): SIGNAL keeps the status, time and agency; CATEGORY also the
// detail; SUMMARY and FULL also the professional. Sets feedback_level.
v1::ReferralEvent EventForSender(const v1::ReferralEvent& event,
                                 v1::Level level);

// A referral as its sender may see it: the recipient's changes at the
// level each was fed back at, those it was not told of left out, and the
// status the last one left shown.
v1::Referral SenderView(const v1::Referral& referral);

// Short lower-case name, e.g. "info_requested".
std::string StatusName(v1::ReferralStatus status);

}  // namespace liaison

#endif  // LIAISON_BROKER_REFERRAL_LIFECYCLE_H_
