// A referral the default policy lets through from health to social care,
// shared by the integration tests and liaison-bench.
#ifndef LIAISON_TESTS_COMMON_EXAMPLE_REFERRAL_H_
#define LIAISON_TESTS_COMMON_EXAMPLE_REFERRAL_H_

#include <string>

#include "liaison/v1/exchange.pb.h"

namespace liaison::testing {

// A referral from a health agency to agency `to` about the person
// `subject` (born `birth_date`, YYYY-MM-DD), with a health record whose
// clinician notes are `notes`, under `consent_id` and with a completed
// pre-sharing checklist. No idempotency key is set.
v1::SendReferralRequest HealthReferral(const std::string& to,
                                       const std::string& subject,
                                       const std::string& birth_date,
                                       const std::string& consent_id,
                                       const std::string& notes);

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_COMMON_EXAMPLE_REFERRAL_H_
