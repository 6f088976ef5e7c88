#include "policy/disclosure.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

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
#include "policy/transforms.h"

namespace liaison::policy {
namespace {

const absl::CivilDay kToday(2026, 11, 22);

std::shared_ptr<const PolicySet> DefaultSet() {
  static const auto* set = [] {
    auto loaded =
        PolicySet::FromDirectory(std::string(LIAISON_POLICY_DIR) + "/default");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const PolicySet>(*loaded);
  }();
  return *set;
}

absl::Time Noon(absl::CivilDay day) {
  return absl::FromCivil(day, absl::UTCTimeZone()) + absl::Hours(12);
}

v1::LegalBasis Consent() {
  v1::LegalBasis b;
  b.set_consent_id("consent-7");
  return b;
}

v1::LegalBasis Duty(const std::string& id) {
  v1::LegalBasis b;
  b.set_statutory_duty(id);
  return b;
}

// The child-protection provision the default set allows on routes to the
// police (suspected crimes against a child); routes to social services take
// the duty to report concern, OSL 10 kap. 28 §.
constexpr char kToPolice[] = "OSL 10 kap. 21 §";

// A complete override in jurisdiction "se": child protection, two persons.
v1::LegalBasis Override(const std::string& provision = "OSL 10 kap. 28 §") {
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

DisclosureQuery Query(const std::string& from, const std::string& to,
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

v1::Record HealthRecord() {
  v1::Record r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
health {
  subject { identifier: "20110412-2389" birth_date: "2011-04-12" }
  address { street: "Amiralsgatan 17B" postcode: "214 37"
            municipality: "Malmo" country: "SE" }
  diagnosis_codes: "F32.1"
  diagnosis_codes: "T39.1"
  medications: "sertraline 50 mg"
  contacts { name: "Dr Lena Ek" role: "child psychiatrist" }
  clinician_notes: "Says things are bad at home."
  risk_level: "high"
  risk_assessed_on: "2026-11-18"
  summary_for_sharing: "Treated after self-harm; follow-up planned."
  active_involvement: true
  contact_point { name: "CAMHS duty team" phone: "+46401231111" }
})",
                                                            &r));
  return r;
}

std::map<std::string, std::string> Treatments(const v1::AbstractedRecord& a) {
  std::map<std::string, std::string> out;
  for (const v1::FieldOutcome& f : a.fields()) {
    out[f.field()] = absl::StrCat(
        v1::FieldOutcome::Treatment_Name(f.treatment()), " ", f.transform());
  }
  return out;
}

// The issue's acceptance case: one health record under consent reaches
// police as SIGNAL only and social care as CATEGORY.
TEST(Abstract, AHealthRecordUnderConsentReachesEachRecipientAtItsLevel) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  const v1::Record record = HealthRecord();

  const Decision to_police =
      Decide(*set, Query("health", "police", "child_welfare", Consent()));
  ASSERT_TRUE(to_police.allowed);
  const v1::AbstractedRecord police =
      Abstract(*set, record, to_police, kToday, "key");
  EXPECT_EQ(police.level(), v1::LEVEL_SIGNAL);
  const v1::HealthRecord& p = police.record().health();
  EXPECT_EQ(p.subject().identifier(), "20110412-2389");
  EXPECT_TRUE(p.active_involvement());
  EXPECT_EQ(p.contact_point().name(), "CAMHS duty team");
  EXPECT_EQ(p.subject().birth_date(), "");
  EXPECT_FALSE(p.has_address());
  EXPECT_TRUE(p.diagnosis_codes().empty());
  EXPECT_TRUE(p.medications().empty());
  EXPECT_TRUE(p.contacts().empty());
  EXPECT_EQ(p.clinician_notes(), "");
  EXPECT_EQ(p.risk_level(), "");
  EXPECT_EQ(p.summary_for_sharing(), "");
  EXPECT_TRUE(police.more_available_under_override());
  EXPECT_EQ(police.policy_version(), set->version());

  const Decision to_social =
      Decide(*set, Query("health", "social_care", "child_welfare", Consent()));
  ASSERT_TRUE(to_social.allowed);
  const v1::AbstractedRecord social =
      Abstract(*set, record, to_social, kToday, "key");
  EXPECT_EQ(social.level(), v1::LEVEL_CATEGORY);
  const v1::HealthRecord& s = social.record().health();
  ASSERT_EQ(s.diagnosis_codes_size(), 2);
  EXPECT_TRUE(absl::StrContains(s.diagnosis_codes(0), "chapter V (F00-F99)"))
      << s.diagnosis_codes(0);
  EXPECT_TRUE(absl::StrContains(s.diagnosis_codes(1), "chapter XIX (S00-T98)"))
      << s.diagnosis_codes(1);
  EXPECT_EQ(s.subject().birth_date(), "13-15");
  EXPECT_EQ(s.address().municipality(), "Malmo");
  EXPECT_EQ(s.address().street(), "");
  EXPECT_EQ(s.address().postcode(), "");
  EXPECT_EQ(s.clinician_notes(), "");
  EXPECT_TRUE(s.medications().empty());
  EXPECT_EQ(s.risk_level(), "high");
  EXPECT_EQ(s.risk_assessed_on(), "2026-11");
  EXPECT_EQ(s.summary_for_sharing(), "");
  EXPECT_TRUE(social.more_available_under_override());

  const auto t = Treatments(social);
  EXPECT_EQ(t.at("health.diagnosis_codes"),
            "TREATMENT_GENERALISED code_to_chapter");
  EXPECT_EQ(t.at("health.subject.birth_date"),
            "TREATMENT_GENERALISED birth_date_to_age_band");
  EXPECT_EQ(t.at("health.address"),
            "TREATMENT_GENERALISED address_to_municipality");
  EXPECT_EQ(t.at("health.clinician_notes"), "TREATMENT_WITHHELD drop");
  EXPECT_EQ(t.at("health.medications"), "TREATMENT_WITHHELD drop");
  EXPECT_EQ(t.at("health.risk_level"), "TREATMENT_KEPT keep");
  EXPECT_EQ(t.size(), 12u);
}

TEST(Abstract, SummaryAndFullAndDenied) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  const v1::Record record = HealthRecord();
  Decision d =
      Decide(*set, Query("health", "social_care", "child_welfare", Override()));
  ASSERT_EQ(d.level, v1::LEVEL_SUMMARY);
  v1::AbstractedRecord a = Abstract(*set, record, d, kToday, "key");
  EXPECT_EQ(a.record().health().diagnosis_codes(0), "F32");
  EXPECT_EQ(a.record().health().subject().birth_date(), "2011-04-12");
  EXPECT_EQ(a.record().health().summary_for_sharing(),
            "Treated after self-harm; follow-up planned.");
  EXPECT_EQ(a.record().health().clinician_notes(), "");
  EXPECT_FALSE(a.more_available_under_override());

  d.level = v1::LEVEL_FULL;
  a = Abstract(*set, record, d, kToday, "key");
  EXPECT_EQ(a.record().SerializeAsString(), record.SerializeAsString());
  for (const v1::FieldOutcome& f : a.fields()) {
    EXPECT_EQ(f.treatment(), v1::FieldOutcome::TREATMENT_KEPT) << f.field();
  }

  d = Decide(*set, Query("police", "health", "child_welfare", Consent()));
  ASSERT_FALSE(d.allowed);
  a = Abstract(*set, record, d, kToday, "key");
  EXPECT_EQ(a.level(), v1::LEVEL_NONE);
  EXPECT_FALSE(a.has_record());
  EXPECT_EQ(a.fields_size(), 12);
  for (const v1::FieldOutcome& f : a.fields()) {
    EXPECT_EQ(f.treatment(), v1::FieldOutcome::TREATMENT_WITHHELD) << f.field();
  }
}

TEST(Abstract, UnknownFieldsNeverReachTheRecipient) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  // A record carrying a field this schema does not know (number 99).
  std::string bytes = HealthRecord().SerializeAsString();
  v1::HealthRecord inner = HealthRecord().health();
  std::string inner_bytes = inner.SerializeAsString();
  inner_bytes += std::string("\x9a\x06\x06secret", 9);  // field 99, "secret"
  v1::Record smuggled;
  ASSERT_TRUE(smuggled.mutable_health()->ParseFromString(inner_bytes));
  Decision d =
      Decide(*set, Query("health", "social_care", "child_welfare", Consent()));
  for (v1::Level level : {v1::LEVEL_CATEGORY, v1::LEVEL_FULL}) {
    d.level = level;
    const v1::AbstractedRecord a = Abstract(*set, smuggled, d, kToday, "k");
    EXPECT_EQ(a.record().SerializeAsString().find("secret"), std::string::npos)
        << v1::Level_Name(level);
  }
}

// A referral as its sender wrote it, around whatever record.
v1::Referral FullReferral() {
  v1::Referral r;
  r.set_referral_id("ref-1");
  r.set_case_id("case-1");
  r.set_sender_agency_id("malmo-health");
  r.set_recipient_agency_id("malmo-police");
  r.set_status(v1::REFERRAL_STATUS_SENT);
  r.set_urgency(v1::URGENCY_WITHIN_24H);
  r.add_concerns(v1::CONCERN_CATEGORY_SELF_HARM);
  r.set_requested_action("Check on the family tonight; the father is armed");
  r.mutable_subject()->set_identifier("20110412-2389");
  r.mutable_subject()->set_birth_date("2011-04-12");
  r.set_consent_id("con-1");
  v1::ReferralEvent* sent = r.add_history();
  sent->set_status(v1::REFERRAL_STATUS_SENT);
  sent->set_by_agency_id("malmo-health");
  sent->mutable_by()->set_id("nurse-17");
  sent->mutable_by()->set_role("school nurse");
  return r;
}

TEST(AbstractEnvelope, EveryLevelReducesTheWholeReferral) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  struct Case {
    v1::Level level;
    std::string birth_date;
    bool concerns, requested_action, professional;
  } cases[] = {
      {v1::LEVEL_SIGNAL, "", false, false, false},
      {v1::LEVEL_CATEGORY, "13-15", true, false, false},
      {v1::LEVEL_SUMMARY, "2011-04-12", true, true, true},
      {v1::LEVEL_FULL, "2011-04-12", true, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(v1::Level_Name(c.level));
    v1::Referral r = FullReferral();
    AbstractEnvelope(*set, "referral", c.level, &r, kToday, "key");
    // Routing metadata and the identifier cross at every level.
    EXPECT_EQ(r.referral_id(), "ref-1");
    EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_SENT);
    EXPECT_EQ(r.subject().identifier(), "20110412-2389");
    EXPECT_EQ(r.urgency(), v1::URGENCY_WITHIN_24H);
    EXPECT_EQ(r.subject().birth_date(), c.birth_date);
    EXPECT_EQ(r.concerns_size(), c.concerns ? 1 : 0);
    EXPECT_EQ(!r.requested_action().empty(), c.requested_action);
    EXPECT_EQ(r.history(0).has_by(), c.professional);
    EXPECT_EQ(r.history(0).by_agency_id(), "malmo-health");
    // The recipient is told what it is not seeing.
    EXPECT_EQ(r.envelope().level(), c.level);
    EXPECT_EQ(r.envelope().policy_version(), set->version());
    std::map<std::string, v1::FieldOutcome::Treatment> t;
    for (const v1::FieldOutcome& o : r.envelope().fields()) {
      t[o.field()] = o.treatment();
    }
    EXPECT_EQ(t.at("requested_action"),
              c.requested_action ? v1::FieldOutcome::TREATMENT_KEPT
                                 : v1::FieldOutcome::TREATMENT_WITHHELD);
    if (c.level == v1::LEVEL_CATEGORY) {
      EXPECT_EQ(t.at("subject.birth_date"),
                v1::FieldOutcome::TREATMENT_GENERALISED);
    }
  }
}

TEST(AbstractEnvelope, AFieldWithoutARuleIsWithheldEvenAtFull) {
  // A set whose referral envelope has no rule for requested_action: the
  // check refuses it, but should one be in force the field still does not
  // cross.
  std::vector<PolicySource> sources;
  for (const char* name :
       {"agreements", "code-mappings", "jurisdictions", "records", "sectors"}) {
    std::ifstream in(
        absl::StrCat(LIAISON_POLICY_DIR, "/default/", name, ".textproto"));
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back({name, text.str()});
  }
  auto set = PolicySet::FromSources(sources);
  ASSERT_FALSE(set.ok());
  EXPECT_TRUE(absl::StrContains(set.status().message(),
                                "no envelope rules for \"referral\""))
      << set.status();
  v1::Referral r = FullReferral();
  AbstractEnvelope(*DefaultSet(), "no_such_envelope", v1::LEVEL_FULL, &r,
                   kToday, "key");
  EXPECT_EQ(r.requested_action(), "");
  EXPECT_EQ(r.concerns_size(), 0);
  EXPECT_FALSE(r.has_subject());
  EXPECT_EQ(r.referral_id(), "ref-1");
  for (const v1::FieldOutcome& o : r.envelope().fields()) {
    EXPECT_EQ(o.treatment(), v1::FieldOutcome::TREATMENT_WITHHELD)
        << o.field();
  }
}

TEST(AbstractEnvelope, UnknownFieldsNeverCross) {
  v1::Referral r = FullReferral();
  std::string bytes = r.SerializeAsString();
  bytes += std::string("\x9a\x06\x06secret", 9);  // field 99, "secret"
  ASSERT_TRUE(r.ParseFromString(bytes));
  AbstractEnvelope(*DefaultSet(), "referral", v1::LEVEL_FULL, &r, kToday,
                   "key");
  EXPECT_EQ(r.SerializeAsString().find("secret"), std::string::npos);
}

TEST(Abstract, PoliceReferencesAreHashedSoTheyMatchWithoutShowing) {
  const std::shared_ptr<const PolicySet> set = DefaultSet();
  v1::Record record;
  record.mutable_police()->add_incident_references("INC-2026-0042");
  record.mutable_police()->add_incident_dates("2026-10-03");
  const Decision d =
      Decide(*set, Query("police", "social_care", "child_welfare", Consent()));
  ASSERT_EQ(d.level, v1::LEVEL_CATEGORY);
  const v1::AbstractedRecord a = Abstract(*set, record, d, kToday, "key");
  EXPECT_EQ(a.record().police().incident_references(0),
            KeyedHash("key", "INC-2026-0042"));
  EXPECT_EQ(a.record().police().incident_dates(0), "2026-10");
}

// liaison-policy, run as a user would.
struct ToolRun {
  int exit_code;
  std::string output;
};

ToolRun Tool(const std::string& args) {
  const std::string command =
      absl::StrCat(LIAISON_POLICY_BIN, " ", args, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kDefault = std::string(LIAISON_POLICY_DIR) + "/default";
const std::string kExamples = std::string(LIAISON_POLICY_DIR) + "/examples";

TEST(LiaisonPolicy, CheckPassesTheDefaultSetAndNamesTheLineOfATypo) {
  ToolRun ok = Tool("check " + kDefault);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(absl::StrContains(ok.output, "checks: 4 sectors")) << ok.output;

  const std::string dir = ::testing::TempDir() + "/typo-policy";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(kDefault, dir);
  std::ifstream in(dir + "/agreements.textproto");
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  const size_t at = s.find("valid_from: \"2026-01-01\"");
  const int line =
      1 + static_cast<int>(std::count(s.begin(), s.begin() + at, '\n'));
  s.replace(at, 10, "valid_fron");
  std::ofstream(dir + "/agreements.textproto") << s;
  ToolRun bad = Tool("check " + dir);
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(absl::StrContains(
      bad.output, absl::StrCat(dir, "/agreements.textproto:", line, ":")))
      << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "valid_fron")) << bad.output;
}

TEST(LiaisonPolicy, ExplainShowsDecisionReasonsAndRecord) {
  ToolRun social = Tool(
      absl::StrCat("explain --policy=", kDefault,
                   " --from=health --to=social_care --purpose=child_welfare"
                   " --basis=consent --date=2026-11-22 --record=",
                   kExamples, "/health-record.textproto"));
  EXPECT_EQ(social.exit_code, 0) << social.output;
  for (const char* want :
       {"ALLOWED at LEVEL_CATEGORY", "health-to-social-care-welfare",
        "chapter V (F00-F99)", "birth_date: \"13-15\"",
        "municipality: \"Malmo\"", "health.clinician_notes: withheld (drop)",
        "more would be available under an override",
        // The envelope beside the record: the birth date as an age band,
        // the concerns kept, the sender's free text withheld.
        "envelope (referral) at LEVEL_CATEGORY",
        "referral.subject.birth_date: generalised (birth_date_to_age_band)",
        "referral.concerns: kept (keep)",
        "referral.requested_action: withheld (drop)"}) {
    EXPECT_TRUE(absl::StrContains(social.output, want)) << want << " in:\n"
                                                        << social.output;
  }
  EXPECT_FALSE(absl::StrContains(social.output, "Amiralsgatan"));

  ToolRun police = Tool(
      absl::StrCat("explain --policy=", kDefault,
                   " --from=health --to=police --purpose=child_welfare"
                   " --basis_file=",
                   kExamples, "/override-basis.textproto --record=", kExamples,
                   "/health-record.textproto"));
  EXPECT_EQ(police.exit_code, 0) << police.output;
  EXPECT_TRUE(absl::StrContains(police.output, "ALLOWED at LEVEL_CATEGORY"))
      << police.output;

  ToolRun denied =
      Tool(absl::StrCat("explain --policy=", kDefault,
                        " --from=police --to=health"
                        " --purpose=child_welfare --basis=consent"));
  EXPECT_EQ(denied.exit_code, 1) << denied.output;
  EXPECT_TRUE(absl::StrContains(denied.output, "DENIED")) << denied.output;
  EXPECT_TRUE(absl::StrContains(denied.output, "no agreement covers"));

  ToolRun envelope = Tool(absl::StrCat(
      "explain --policy=", kDefault,
      " --from=health --to=police --purpose=child_welfare --basis=consent"
      " --message=summary_request"));
  EXPECT_EQ(envelope.exit_code, 0) << envelope.output;
  EXPECT_TRUE(absl::StrContains(
      envelope.output, "summary_request.subject.birth_date: withheld (drop)"))
      << envelope.output;
  EXPECT_EQ(Tool(absl::StrCat("explain --policy=", kDefault,
                              " --from=health --to=police --purpose=x"
                              " --basis=consent --message=case"))
                .exit_code,
            2);

  ToolRun usage = Tool("explain --policy=" + kDefault + " --from=health");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_TRUE(absl::StrContains(usage.output, "explain needs --to"));
  const std::string bad_basis = ::testing::TempDir() + "/bad-basis.textproto";
  std::ofstream(bad_basis) << "override {\n  category: RISK\n}\n";
  ToolRun unreadable = Tool(absl::StrCat(
      "explain --policy=", kDefault,
      " --from=health --to=police --purpose=child_welfare --basis_file=",
      bad_basis));
  EXPECT_EQ(unreadable.exit_code, 2) << unreadable.output;
  EXPECT_TRUE(absl::StrContains(unreadable.output, bad_basis + ":2:"))
      << unreadable.output;
  EXPECT_EQ(Tool("frobnicate").exit_code, 2);
  ToolRun help = Tool("help explain");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.output, "--basis_file"));
}

}  // namespace
}  // namespace liaison::policy
