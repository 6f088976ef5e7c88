// The shape of the Exchange service's requests, checked before anything is
// decided: every problem at once, so a caller can fix them all.
#ifndef LIAISON_BROKER_EXCHANGE_VALIDATION_H_
#define LIAISON_BROKER_EXCHANGE_VALIDATION_H_

#include "absl/status/status.h"
#include "broker/registry.h"
#include "liaison/v1/exchange.pb.h"
#include "policy/policy_set.h"

namespace liaison {

// Checks a SendReferralRequest's shape: INVALID_ARGUMENT listing every
// problem, so a caller can fix them all at once.
absl::Status ValidateSendReferral(const v1::SendReferralRequest& request);
// The same for the summary calls: every missing or malformed field, and a
// record that does not name its subject.
absl::Status ValidatePushSummary(const v1::PushSummaryRequest& request);
absl::Status ValidateRequestSummary(const v1::RequestSummaryRequest& request);
absl::Status ValidateAnswerSummaryRequest(
    const v1::AnswerSummaryRequestRequest& request);
// A consent's shape against the policy set in force and the registry:
// every missing or malformed field, and parties naming sectors the set
// does not have or agencies that are not registered.
absl::Status ValidateConsent(const v1::Consent& consent,
                             const policy::PolicySet& policy,
                             const Registry& registry);

}  // namespace liaison

#endif  // LIAISON_BROKER_EXCHANGE_VALIDATION_H_
