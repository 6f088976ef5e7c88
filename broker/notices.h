// Notices the broker itself sends (DESIGN.md section 5): non-delivery when
// a message expires unacknowledged, escalation when an urgent referral
// misses its acknowledgement deadline.
#ifndef LIAISON_BROKER_NOTICES_H_
#define LIAISON_BROKER_NOTICES_H_

#include <string>

#include "absl/time/time.h"
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

}  // namespace liaison

#endif  // LIAISON_BROKER_NOTICES_H_
