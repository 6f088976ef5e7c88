// For the policy engine's tests: the default policy set, and the
// questions and bases they put to it.
#ifndef LIAISON_POLICY_POLICY_TESTING_H_
#define LIAISON_POLICY_POLICY_TESTING_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "policy/disclosure.h"
#include "policy/policy_set.h"

namespace liaison::policy {

inline const absl::CivilDay kToday(2026, 11, 22);

inline std::shared_ptr<const PolicySet> DefaultSet() {
  static const auto* set = [] {
    auto loaded =
        PolicySet::FromDirectory(std::string(LIAISON_POLICY_DIR) + "/default");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const PolicySet>(*loaded);
  }();
  return *set;
}

inline absl::Time Noon(absl::CivilDay day) {
  return absl::FromCivil(day, absl::UTCTimeZone()) + absl::Hours(12);
}

inline v1::LegalBasis Consent() {
  v1::LegalBasis b;
  b.set_consent_id("consent-7");
  return b;
}

inline v1::LegalBasis Duty(const std::string& id) {
  v1::LegalBasis b;
  b.set_statutory_duty(id);
  return b;
}

// The child-protection provision the default set allows on routes to the
// police (suspected crimes against a child); routes to social services take
// the duty to report concern, OSL 10 kap. 28 §.
inline constexpr char kToPolice[] = "OSL 10 kap. 21 §";

// A complete override in jurisdiction "se": child protection, two persons.
inline v1::LegalBasis Override(const std::string& provision = "OSL 10 kap. 28 §") {
  v1::LegalBasis b;
  v1::Justification* j = b.mutable_override();
  j->set_category(v1::OVERRIDE_CATEGORY_CHILD_PROTECTION);
  j->set_legal_provision(provision);
  j->set_statement(
      "Injuries seen at the emergency department point to violence at home.");
  j->mutable_assessor()->set_id("clin-1");
  j->mutable_approver()->set_id("mgr-2");
  return b;
}

inline DisclosureQuery Query(const std::string& from, const std::string& to,
                      const std::string& purpose, v1::LegalBasis basis) {
  DisclosureQuery q;
  q.sender_agency_id = "malmo-" + from;
  q.sender_sector = from;
  q.sender_jurisdiction = "se";
  q.recipient_agency_id = "malmo-" + to;
  q.recipient_sector = to;
  q.purpose = purpose;
  q.basis = std::move(basis);
  q.legitimate_relationship = true;
  q.at = Noon(kToday);
  q.subject_pseudonym = "subject-1";
  if (q.basis.has_consent_id()) {
    // A consent in the registry from the subject, wide enough that the
    // agreement alone sets the level.
    v1::Consent c;
    c.set_consent_id(q.basis.consent_id());
    c.set_grantor(v1::GRANTOR_SUBJECT);
    for (const char* sector : {"health", "social_care", "education", "police",
                               "housing"}) {
      c.add_disclosing()->set_sector(sector);
      c.add_recipients()->set_sector(sector);
    }
    c.add_purposes(purpose);
    c.set_max_level(v1::LEVEL_FULL);
    q.consent = c;
    q.consent_subject_pseudonym = q.subject_pseudonym;
  }
  return q;
}


}  // namespace liaison::policy

#endif  // LIAISON_POLICY_POLICY_TESTING_H_
