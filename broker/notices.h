// Notices the broker itself sends (DESIGN.md section 5): non-delivery when
// a message expires unacknowledged, escalation when an urgent referral
// misses its acknowledgement deadline, consent recall when a consent is
// withdrawn, and an override alert when data leaves under an override.
#ifndef LIAISON_BROKER_NOTICES_H_
#define LIAISON_BROKER_NOTICES_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "liaison/v1/admin.pb.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {

// For the sender of `message_id`, which `recipient_agency_id` did not
// acknowledge before it expired.
v1::InboxMessage NonDeliveryNotice(const std::string& message_id,
                                   const std::string& referral_id,
                                   const std::string& recipient_agency_id,
                                   absl::Time now);

// For the sender and the case manager of an urgent referral not
// acknowledged by `deadline`.
v1::InboxMessage EscalationNotice(const v1::Referral& referral,
                                  absl::Time deadline, absl::Time now);

// For an agency that received `message_ids` under `consent`, which has
// just been withdrawn.
v1::InboxMessage ConsentRecallNotice(
    const v1::Consent& consent, const std::vector<std::string>& message_ids,
    absl::Time now);

// "wrong recipient" for RECALL_REASON_WRONG_RECIPIENT.
std::string RecallReasonWord(v1::RecallReason reason);

// For the recipient of `referral`, which its sender took back (withdrawn
// before the recipient's system acknowledged `message_id`, or recalled
// after) for `reason`.
v1::InboxMessage ReferralRecallNotice(const v1::Referral& referral,
                                      const std::string& message_id,
                                      bool withdrawn, v1::RecallReason reason,
                                      absl::Time now);

// For the privacy officer of the agency whose data left under the override
// logged at `sequence`: auditors did not review it by `review_by`.
v1::InboxMessage OverdueReviewNotice(uint64_t sequence, absl::Time review_by,
                                     absl::Time now);

// For the privacy officer of `source`, the agency whose data left under an
// override: `message_ids` were delivered to `recipient_agency_id`.
v1::InboxMessage OverrideAlertNotice(
    const v1::Agency& source, const std::string& recipient_agency_id,
    const v1::Justification& justification,
    const std::vector<std::string>& message_ids, const std::string& referral_id,
    absl::Time now);

}  // namespace liaison

#endif  // LIAISON_BROKER_NOTICES_H_
