// Referrals the tests and liaison-bench send: one the default policy lets
// through from health to social care, and the school's referral about
// absence that the integration tests build on.
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

// Confirms the four steps of the pre-sharing checklist the default policy
// requires of health: concern verified, person informed, a colleague or
// expert consulted, manager approved.
void ConfirmChecklist(v1::PreSharingChecklist* c);

// A routine referral from a school to agency `to` about the person
// `subject` (identifier only) for child welfare, citing school absence,
// with an education record naming Rosengard School. No key, basis, birth
// date or notes: tests add what they are about.
v1::SendReferralRequest SchoolAbsenceReferral(const std::string& to,
                                              const std::string& subject);

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_COMMON_EXAMPLE_REFERRAL_H_
