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

// Short lower-case name, e.g. "info_requested".
std::string StatusName(v1::ReferralStatus status);

}  // namespace liaison

#endif  // LIAISON_BROKER_REFERRAL_LIFECYCLE_H_
