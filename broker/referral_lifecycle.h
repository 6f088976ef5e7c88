// The referral lifecycle (DESIGN.md section 5): SENT, DELIVERED,
// ACKNOWLEDGED, then ACCEPTED, DECLINED or INFO_REQUESTED, then CLOSED.
// Pure rules; the store applies them inside its transactions.
#ifndef LIAISON_BROKER_REFERRAL_LIFECYCLE_H_
#define LIAISON_BROKER_REFERRAL_LIFECYCLE_H_

#include <functional>

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

// A referral as its sender may see it: the recipient's changes as `told`
// gives each (the change reduced to the level it was fed back at), those it
// was not told of left out, and the status the last one left shown.
v1::Referral SenderView(
    const v1::Referral& referral,
    const std::function<v1::ReferralEvent(const v1::ReferralEvent&)>& told);

// Short lower-case name, e.g. "info_requested".
std::string StatusName(v1::ReferralStatus status);

}  // namespace liaison

#endif  // LIAISON_BROKER_REFERRAL_LIFECYCLE_H_
