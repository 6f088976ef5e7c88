#include "policy/disclosure.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/policy_testing.h"
#include "policy/transforms.h"

namespace liaison::policy {
namespace {

struct DecisionCase {
  std::string name;
  DisclosureQuery query;
  v1::Level level;        // LEVEL_NONE: denied
  std::string agreement;  // expected agreement id, "" for none
  std::string reason;     // a substring of the last reason
};

TEST(Decide, EveryDefaultAgreementOnEveryBasis) {
  auto with = [](DisclosureQuery q, auto change) {
    change(&q);
    return q;
  };
  const std::vector<DecisionCase> cases = {
      {"school to social care under consent",
       Query("education", "social_care", "child_welfare", Consent()),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
      {"school to social care under the reporting duty",
       Query("education", "social_care", "child_welfare", Duty("se-sol-14-1")),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
      {"school to social care under override",
       Query("education", "social_care", "child_welfare", Override()),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
      {"health to social care under consent",
       Query("health", "social_care", "child_welfare", Consent()),
       v1::LEVEL_CATEGORY, "health-to-social-care-welfare", "allowed at"},
      {"health to social care under override",
       Query("health", "social_care", "child_welfare", Override()),
       v1::LEVEL_SUMMARY, "health-to-social-care-welfare", "allowed at"},
      {"health to social care under the reporting duty",
       Query("health", "social_care", "child_welfare", Duty("se-sol-14-1")),
       v1::LEVEL_CATEGORY, "health-to-social-care-welfare", "allowed at"},
      {"health to social care under a duty the agreement does not name",
       Query("health", "social_care", "child_welfare", Duty("se-sol-14-1a")),
       v1::LEVEL_NONE, "health-to-social-care-welfare",
       "statutory duty \"se-sol-14-1a\" is not named"},
      {"health to police under consent",
       Query("health", "police", "child_welfare", Consent()), v1::LEVEL_SIGNAL,
       "health-to-police", "allowed at"},
      {"health to police for crime prevention under consent",
       Query("health", "police", "crime_prevention", Consent()),
       v1::LEVEL_SIGNAL, "health-to-police", "allowed at"},
      {"health to police under an approved override",
       Query("health", "police", "crime_prevention", Override(kToPolice)),
       v1::LEVEL_CATEGORY, "health-to-police", "allowed at"},
      {"health to police under an override with no approver",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->clear_approver();
            }),
       v1::LEVEL_NONE, "health-to-police", "needs an approving manager"},
      {"health to police with the assessor approving",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id("clin-1");
            }),
       v1::LEVEL_NONE, "health-to-police", "distinct from the assessor"},
      {"health to police with a blank approver",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id(" ");
            }),
       v1::LEVEL_NONE, "health-to-police", "needs an approving manager"},
      {"health to police with a no-break space as approver",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id(
                  "\xc2\xa0\t");
            }),
       v1::LEVEL_NONE, "health-to-police", "needs an approving manager"},
      {"health to police with the assessor approving, padded",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id(
                  "clin-1 ");
            }),
       v1::LEVEL_NONE, "health-to-police", "distinct from the assessor"},
      {"health to police with the assessor approving in capitals",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id(
                  " CLIN-1");
            }),
       v1::LEVEL_NONE, "health-to-police", "distinct from the assessor"},
      {"health to police with the assessor approving behind a word joiner",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id(
                  "clin\xe2\x81\xa0-1\xef\xbb\xbf");
            }),
       v1::LEVEL_NONE, "health-to-police", "distinct from the assessor"},
      {"health to police with the assessor approving, thin-spaced inside",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_approver()->set_id(
                  "cl\xe2\x80\xafin-1");
            }),
       v1::LEVEL_NONE, "health-to-police", "distinct from the assessor"},
      {"health to police with a blank assessor",
       with(Query("health", "police", "crime_prevention", Override(kToPolice)),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->mutable_assessor()->set_id("\t ");
            }),
       v1::LEVEL_NONE, "health-to-police", "names no assessing professional"},
      {"police to social care under consent",
       Query("police", "social_care", "child_welfare", Consent()),
       v1::LEVEL_CATEGORY, "police-to-social-care-welfare", "allowed at"},
      {"police to social care under the reporting duty",
       Query("police", "social_care", "child_welfare", Duty("se-sol-14-1")),
       v1::LEVEL_SUMMARY, "police-to-social-care-welfare", "allowed at"},
      {"police to social care under override",
       Query("police", "social_care", "child_welfare", Override()),
       v1::LEVEL_SUMMARY, "police-to-social-care-welfare", "allowed at"},
      {"social care to health under consent",
       Query("social_care", "health", "child_welfare", Consent()),
       v1::LEVEL_CATEGORY, "social-care-to-partners-welfare", "allowed at"},
      {"social care to a school under consent",
       Query("social_care", "education", "child_welfare", Consent()),
       v1::LEVEL_CATEGORY, "social-care-to-partners-welfare", "allowed at"},
      {"social care to police under override",
       Query("social_care", "police", "child_welfare", Override(kToPolice)),
       v1::LEVEL_CATEGORY, "social-care-to-partners-welfare", "allowed at"},
      {"feedback to a school under the feedback duty",
       Query("social_care", "education", "referral_feedback",
             Duty("se-sol-14-1a")),
       v1::LEVEL_SIGNAL, "social-care-feedback", "allowed at"},
      {"feedback to health under consent",
       Query("social_care", "health", "referral_feedback", Consent()),
       v1::LEVEL_CATEGORY, "social-care-feedback", "allowed at"},
      {"feedback never under override",
       Query("social_care", "police", "referral_feedback", Override(kToPolice)),
       v1::LEVEL_NONE, "social-care-feedback", "does not allow overrides"},
      {"feedback from a school to social care",
       Query("education", "social_care", "referral_feedback", Consent()),
       v1::LEVEL_CATEGORY, "partners-feedback-to-social-care", "allowed at"},
      {"feedback from police to social care",
       Query("police", "social_care", "referral_feedback", Consent()),
       v1::LEVEL_CATEGORY, "partners-feedback-to-social-care", "allowed at"},
      {"the ended pilot",
       Query("education", "health", "child_welfare", Consent()), v1::LEVEL_NONE,
       "", "expired on 2025-12-31"},
      {"an agreement not yet in force",
       with(Query("health", "social_care", "child_welfare", Consent()),
            [](DisclosureQuery* q) {
              q->at = Noon(absl::CivilDay(2025, 6, 1));
            }),
       v1::LEVEL_NONE, "", "it starts on 2026-01-01"},
      {"an agreement past its end",
       with(Query("health", "social_care", "child_welfare", Consent()),
            [](DisclosureQuery* q) {
              q->at = Noon(absl::CivilDay(2029, 1, 1));
            }),
       v1::LEVEL_NONE, "", "expired on 2028-12-31"},
      {"police to health: no agreement",
       Query("police", "health", "child_welfare", Consent()), v1::LEVEL_NONE,
       "", "no agreement covers police to health"},
      {"school to police: no agreement",
       Query("education", "police", "child_welfare", Override()),
       v1::LEVEL_NONE, "", "no agreement covers"},
      {"a purpose no agreement names",
       Query("health", "social_care", "marketing", Consent()), v1::LEVEL_NONE,
       "", "for purpose \"marketing\""},
      {"an unknown sector",
       Query("housing", "social_care", "child_welfare", Consent()),
       v1::LEVEL_NONE, "", "no agreement covers"},
      {"no legal basis",
       Query("health", "social_care", "child_welfare", v1::LegalBasis()),
       v1::LEVEL_NONE, "health-to-social-care-welfare", "no legal basis"},
      {"no legitimate relationship",
       with(Query("education", "social_care", "child_welfare", Consent()),
            [](DisclosureQuery* q) { q->legitimate_relationship = false; }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "no legitimate relationship"},
      {"an override in a jurisdiction the set does not know",
       with(Query("health", "social_care", "child_welfare", Override()),
            [](DisclosureQuery* q) { q->sender_jurisdiction = "xx"; }),
       v1::LEVEL_NONE, "health-to-social-care-welfare",
       "jurisdiction \"xx\" is not in the policy set"},
      {"an override category without a category",
       with(Query("health", "social_care", "child_welfare", Override()),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->clear_category();
            }),
       v1::LEVEL_NONE, "health-to-social-care-welfare",
       "is not one jurisdiction \"se\" lists"},
      {"an override on a provision not listed for its category",
       with(Query("health", "social_care", "child_welfare", Override()),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->set_legal_provision(
                  "OSL 10 kap. 2 §");
            }),
       v1::LEVEL_NONE, "health-to-social-care-welfare",
       "legal provision \"OSL 10 kap. 2 §\" is not one"},
      {"an override on a provision its jurisdiction lists but its route does "
       "not",
       Query("health", "police", "crime_prevention", Override()),
       v1::LEVEL_NONE, "health-to-police",
       "legal provision \"OSL 10 kap. 28 §\" is not one agreement "
       "\"health-to-police\" allows for OVERRIDE_CATEGORY_CHILD_PROTECTION on "
       "this route (OSL 10 kap. 21 §)"},
      {"an override statement too short",
       with(Query("health", "social_care", "child_welfare", Override()),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->set_statement("at risk");
            }),
       v1::LEVEL_NONE, "health-to-social-care-welfare", "asks for at least 40"},
      {"an override with no assessor",
       with(Query("health", "social_care", "child_welfare", Override()),
            [](DisclosureQuery* q) {
              q->basis.mutable_override()->clear_assessor();
            }),
       v1::LEVEL_NONE, "health-to-social-care-welfare",
       "no assessing professional"},
  };
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  for (const DecisionCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Decision d = Decide(*set, c.query);
    EXPECT_EQ(d.allowed, c.level != v1::LEVEL_NONE)
        << absl::StrJoin(d.reasons, "\n");
    EXPECT_EQ(d.level, c.level);
    EXPECT_EQ(d.agreement_id, c.agreement);
    EXPECT_EQ(d.policy_version, set->version());
    ASSERT_FALSE(d.reasons.empty());
    EXPECT_TRUE(absl::StrContains(d.reasons.back(), c.reason))
        << "last reason: " << d.reasons.back();
  }
}

// A consent basis is only as good as the consent the registry holds
// (DESIGN.md rule 5): every way one can fail, and the level it caps.
TEST(Decide, AConsentMustCoverTheRouteThePurposeAndTheDay) {
  auto with = [](DisclosureQuery q, auto change) {
    change(&q);
    return q;
  };
  // School to social care, under a guardian's consent for a child born
  // 2011-03-14, who comes of age (18 in "se") on 2029-03-14.
  auto guardian = [](DisclosureQuery* q) {
    v1::Consent& c = *q->consent;
    c.set_grantor(v1::GRANTOR_GUARDIAN);
    c.set_grantor_relation("mother");
    c.mutable_subject()->set_birth_date("2011-03-14");
  };
  auto at = [](int y, int m, int d) {
    return [=](DisclosureQuery* q) { q->at = Noon(absl::CivilDay(y, m, d)); };
  };
  auto both = [](auto f, auto g) {
    return [=](DisclosureQuery* q) {
      f(q);
      g(q);
    };
  };
  auto base = Query("education", "social_care", "child_welfare", Consent());
  auto refusal = [](DisclosureQuery* q) {
    v1::Consent r;
    r.set_consent_id("con-refusal");
    r.set_refused(true);
    r.set_recorded_by_agency_id("malmo-health");
    r.add_disclosing()->set_sector("education");
    r.add_recipients()->set_agency_id("malmo-social_care");
    r.add_purposes("child_welfare");
    q->refusals.push_back(r);
  };
  const std::vector<DecisionCase> cases = {
      {"a wide consent: the agreement's level", base, v1::LEVEL_SUMMARY,
       "education-to-social-care-welfare", "allowed at LEVEL_SUMMARY"},
      {"the consent's own maximum is lower",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->set_max_level(v1::LEVEL_SIGNAL);
            }),
       v1::LEVEL_SIGNAL, "education-to-social-care-welfare", "allowed at"},
      {"not in the registry",
       with(base, [](DisclosureQuery* q) { q->consent.reset(); }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "is not in the consent registry"},
      {"about another person",
       with(base,
            [](DisclosureQuery* q) {
              q->consent_subject_pseudonym = "someone-else";
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "is about another person"},
      {"a refusal named as the consent",
       with(base, [](DisclosureQuery* q) { q->consent->set_refused(true); }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "records a refusal"},
      {"withdrawn",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->mutable_withdrawn_at()->set_seconds(
                  absl::ToUnixSeconds(q->at - absl::Hours(1)));
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare", "was withdrawn on"},
      {"not yet valid",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->mutable_valid_from()->set_seconds(
                  absl::ToUnixSeconds(q->at + absl::Hours(48)));
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare", "is not valid until"},
      {"expired",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->mutable_valid_until()->set_seconds(
                  absl::ToUnixSeconds(q->at));
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare", "expired on"},
      {"a guardian's consent the day before the subject comes of age",
       with(base, both(guardian, at(2029, 3, 13))), v1::LEVEL_SUMMARY,
       "education-to-social-care-welfare", "allowed at"},
      {"a guardian's consent on the day the subject comes of age",
       with(base, both(guardian, at(2029, 3, 14))), v1::LEVEL_NONE,
       "education-to-social-care-welfare",
       "reached the age of majority (18 in \"se\") on 2029-03-14"},
      {"a guardian's consent for a subject without a birth date",
       with(base, both(guardian,
                       [](DisclosureQuery* q) {
                         q->consent->mutable_subject()->clear_birth_date();
                       })),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "without a valid birth date"},
      {"the sender is not a disclosing party",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->clear_disclosing();
              q->consent->add_disclosing()->set_agency_id("another-school");
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "as a disclosing party; it names agency another-school"},
      {"the recipient is not a recipient",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->clear_recipients();
              q->consent->add_recipients()->set_sector("health");
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "as a recipient; it names sector health"},
      {"every public authority covers social care",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->clear_recipients();
              q->consent->add_recipients()->set_public_authorities(true);
            }),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
      {"another purpose",
       with(base,
            [](DisclosureQuery* q) {
              q->consent->clear_purposes();
              q->consent->add_purposes("referral_feedback");
            }),
       v1::LEVEL_NONE, "education-to-social-care-welfare",
       "does not cover purpose \"child_welfare\""},
      {"a refusal covering the route", with(base, refusal), v1::LEVEL_NONE,
       "education-to-social-care-welfare", "refused consent for this route"},
      {"a withdrawn refusal no longer counts",
       with(base,
            [&](DisclosureQuery* q) {
              refusal(q);
              q->refusals.back().mutable_withdrawn_at()->set_seconds(
                  absl::ToUnixSeconds(q->at - absl::Hours(1)));
            }),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
      {"a refusal of another purpose does not count",
       with(base,
            [&](DisclosureQuery* q) {
              refusal(q);
              q->refusals.back().set_purposes(0, "crime_prevention");
            }),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
      {"a refusal leaves an override possible",
       with(Query("education", "social_care", "child_welfare", Override()),
            refusal),
       v1::LEVEL_SUMMARY, "education-to-social-care-welfare", "allowed at"},
  };
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  for (const DecisionCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Decision d = Decide(*set, c.query);
    EXPECT_EQ(d.allowed, c.level != v1::LEVEL_NONE)
        << absl::StrJoin(d.reasons, "\n");
    EXPECT_EQ(d.level, c.level);
    EXPECT_EQ(d.agreement_id, c.agreement);
    ASSERT_FALSE(d.reasons.empty());
    EXPECT_TRUE(absl::StrContains(d.reasons.back(), c.reason))
        << "last reason: " << d.reasons.back();
  }
}

TEST(Checklist, HealthMustConfirmEveryStepThePolicyRequires) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  v1::PreSharingChecklist c;
  EXPECT_EQ(absl::StrJoin(MissingChecklistSteps(*set, "health", c), ", "),
            "concern_verified, person_informed (or "
            "person_not_informed_reason), colleague_or_expert_consulted, "
            "manager_approved");
  c.set_concern_verified(true);
  c.set_person_not_informed_reason("informing the parents would put the "
                                   "child at risk");
  c.set_colleague_or_expert_consulted(true);
  EXPECT_EQ(absl::StrJoin(MissingChecklistSteps(*set, "health", c), ", "),
            "manager_approved");
  c.set_manager_approved(true);
  EXPECT_TRUE(MissingChecklistSteps(*set, "health", c).empty());
  // Other sectors of the default set require none.
  EXPECT_TRUE(
      MissingChecklistSteps(*set, "education", v1::PreSharingChecklist())
          .empty());
}

TEST(Decide, AnAgreementNamingTheAgencyWinsOverItsSector) {
  std::vector<PolicySource> sources;
  for (const char* name :
       {"code-mappings", "envelopes", "jurisdictions", "records", "sectors"}) {
    std::ifstream in(
        absl::StrCat(LIAISON_POLICY_DIR, "/default/", name, ".textproto"));
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back({name, text.str()});
  }
  sources.push_back({"agreements", R"(
agreements {
  id: "sector-wide" from_sectors: "health" to_sectors: "police"
  purposes: "crime_prevention" consent_max_level: LEVEL_SIGNAL
  valid_from: "2026-01-01"
}
agreements {
  id: "one-clinic" from_agencies: "malmo-health" to_sectors: "police"
  purposes: "crime_prevention" consent_max_level: LEVEL_CATEGORY
  valid_from: "2026-01-01"
}
)"});
  auto set = PolicySet::FromSources(sources);
  // The two overlap on the sector side only through an agency, which the
  // checker cannot see; the decision prefers the agency's own agreement.
  ASSERT_TRUE(set.ok()) << set.status();
  Decision d =
      Decide(**set, Query("health", "police", "crime_prevention", Consent()));
  EXPECT_EQ(d.agreement_id, "one-clinic");
  EXPECT_EQ(d.level, v1::LEVEL_CATEGORY);
  DisclosureQuery other =
      Query("health", "police", "crime_prevention", Consent());
  other.sender_agency_id = "lund-health";
  d = Decide(**set, other);
  EXPECT_EQ(d.agreement_id, "sector-wide");
  EXPECT_EQ(d.level, v1::LEVEL_SIGNAL);
}

}  // namespace
}  // namespace liaison::policy
