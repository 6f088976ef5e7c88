#include "policy/disclosure.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace liaison::policy {
namespace {

v1::DisclosureAllowance Allow(const std::string& from, const std::string& to,
                              const std::string& purpose, v1::Level level) {
  v1::DisclosureAllowance a;
  a.set_from_sector(from);
  a.set_to_sector(to);
  a.set_purpose(purpose);
  a.set_level(level);
  return a;
}

// The allow-list most tests decide against; entry n is "allow-<n>".
std::vector<v1::DisclosureAllowance> Routes() {
  return {
      Allow("education", "social_care", "child_welfare", v1::LEVEL_SUMMARY),
      Allow("health", "police", "crime_prevention", v1::LEVEL_SIGNAL),
      Allow("social_care", "health", "child_welfare", v1::LEVEL_FULL),
      Allow("health", "social_care", "child_welfare", v1::LEVEL_CATEGORY),
  };
}

DisclosurePolicy PolicyOf(const std::vector<v1::DisclosureAllowance>& allow) {
  auto policy = DisclosurePolicy::FromAllowList(allow);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

// A query that passes every check but the route: consent given and the
// recipient attached to the case.
DisclosureQuery Query(const std::string& from, const std::string& to,
                      const std::string& purpose) {
  DisclosureQuery q;
  q.sender_agency_id = "malmo-" + from;
  q.sender_sector = from;
  q.recipient_agency_id = "malmo-" + to;
  q.recipient_sector = to;
  q.purpose = purpose;
  q.basis.set_consent_id("consent-7");
  q.legitimate_relationship = true;
  return q;
}

void ExpectReasons(const Decision& d, const std::vector<std::string>& want) {
  ASSERT_EQ(d.reasons.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(absl::StrContains(d.reasons[i], want[i]))
        << "reason " << i << " is \"" << d.reasons[i] << "\", wanted \""
        << want[i] << "\"";
  }
}

// --- FromAllowList ---------------------------------------------------------

TEST(FromAllowList, AcceptsAValidList) {
  auto policy = DisclosurePolicy::FromAllowList(Routes());
  ASSERT_TRUE(policy.ok()) << policy.status();
  const std::string& version = policy->version();
  ASSERT_TRUE(absl::StartsWith(version, "allow-list-")) << version;
  const std::string digest = version.substr(std::string("allow-list-").size());
  EXPECT_EQ(digest.size(), 16u) << version;
  for (char c : digest) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << version;
  }
}

TEST(FromAllowList, AcceptsAnEmptyList) {
  auto policy = DisclosurePolicy::FromAllowList({});
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(absl::StartsWith(policy->version(), "allow-list-"));
}

TEST(FromAllowList, VersionIsStableForTheSameList) {
  EXPECT_EQ(PolicyOf(Routes()).version(), PolicyOf(Routes()).version());
}

TEST(FromAllowList, VersionChangesWhenAnyEntryChanges) {
  const std::string original = PolicyOf(Routes()).version();
  struct Case {
    std::string name;
    size_t entry;
    v1::DisclosureAllowance replacement;
  };
  const Case cases[] = {
      {"level of entry 1 raised", 0,
       Allow("education", "social_care", "child_welfare", v1::LEVEL_FULL)},
      {"level of entry 1 lowered", 0,
       Allow("education", "social_care", "child_welfare", v1::LEVEL_SIGNAL)},
      {"level of entry 2 raised", 1,
       Allow("health", "police", "crime_prevention", v1::LEVEL_CATEGORY)},
      {"purpose of entry 3 changed", 2,
       Allow("social_care", "health", "treatment", v1::LEVEL_FULL)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<v1::DisclosureAllowance> allow = Routes();
    allow[c.entry] = c.replacement;
    EXPECT_NE(PolicyOf(allow).version(), original);
  }
  EXPECT_NE(PolicyOf({}).version(), original);
}

TEST(FromAllowList, RefusesInvalidEntriesNamingTheEntry) {
  struct Case {
    std::string name;
    std::vector<v1::DisclosureAllowance> allow;
    // Both must appear in the message.
    std::string entry;
    std::string detail;
  };
  const v1::DisclosureAllowance good =
      Allow("education", "social_care", "child_welfare", v1::LEVEL_SUMMARY);
  const v1::DisclosureAllowance other =
      Allow("health", "police", "crime_prevention", v1::LEVEL_SIGNAL);
  const Case cases[] = {
      {"missing from_sector",
       {good, Allow("", "police", "crime_prevention", v1::LEVEL_SIGNAL)},
       "allow entry 2 ",
       "must name from_sector, to_sector and purpose"},
      {"missing to_sector",
       {good, other, Allow("health", "", "crime_prevention", v1::LEVEL_SIGNAL)},
       "allow entry 3 ",
       "must name from_sector, to_sector and purpose"},
      {"missing purpose",
       {Allow("health", "police", "", v1::LEVEL_SIGNAL), good},
       "allow entry 1 ",
       "must name from_sector, to_sector and purpose"},
      {"LEVEL_NONE",
       {good, Allow("health", "police", "crime_prevention", v1::LEVEL_NONE)},
       "allow entry 2 ",
       "needs a level from LEVEL_SIGNAL to LEVEL_FULL"},
      {"level above FULL",
       {good, other,
        Allow("health", "police", "research", static_cast<v1::Level>(5))},
       "allow entry 3 ",
       "needs a level from LEVEL_SIGNAL to LEVEL_FULL"},
      {"negative level",
       {good,
        Allow("health", "police", "research", static_cast<v1::Level>(-1))},
       "allow entry 2 ",
       "needs a level from LEVEL_SIGNAL to LEVEL_FULL"},
      {"duplicate at the same level",
       {good, other, good},
       "allow entry 3 ",
       "(education->social_care for child_welfare) repeats an earlier entry"},
      {"duplicate at another level",
       {good, other,
        Allow("education", "social_care", "child_welfare", v1::LEVEL_FULL)},
       "allow entry 3 ",
       "repeats an earlier entry"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto policy = DisclosurePolicy::FromAllowList(c.allow);
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(policy.status().message());
    EXPECT_TRUE(absl::StrContains(message, c.entry)) << message;
    EXPECT_TRUE(absl::StrContains(message, c.detail)) << message;
  }
}

// --- Decide ----------------------------------------------------------------

TEST(Decide, EmptyAllowListDeniesEverything) {
  const DisclosurePolicy policy = PolicyOf({});
  for (const v1::DisclosureAllowance& route : Routes()) {
    SCOPED_TRACE(route.DebugString());
    const Decision d = policy.Decide(
        Query(route.from_sector(), route.to_sector(), route.purpose()));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.level, v1::LEVEL_NONE);
    EXPECT_EQ(d.agreement_id, "");
    EXPECT_EQ(d.policy_version, policy.version());
    ExpectReasons(
        d, {"no agreement covers " + route.from_sector() + " to " +
            route.to_sector() + " for purpose \"" + route.purpose() + "\""});
  }
}

TEST(Decide, ListedRouteIsAllowedAtExactlyItsLevel) {
  const DisclosurePolicy policy = PolicyOf(Routes());
  struct Case {
    DisclosureQuery query;
    v1::Level level;
    std::string agreement_id;
    std::string reason;
  };
  DisclosureQuery by_override = Query("health", "police", "crime_prevention");
  by_override.basis.mutable_override()->set_category(
      v1::OVERRIDE_CATEGORY_RISK_TO_LIFE);
  DisclosureQuery by_duty = Query("health", "social_care", "child_welfare");
  by_duty.basis.set_statutory_duty("sol-2001-453-14");
  const Case cases[] = {
      {Query("education", "social_care", "child_welfare"), v1::LEVEL_SUMMARY,
       "allow-1",
       "allowed by allow-1 (education->social_care for child_welfare) at "
       "LEVEL_SUMMARY"},
      {by_override, v1::LEVEL_SIGNAL, "allow-2",
       "allowed by allow-2 (health->police for crime_prevention) at "
       "LEVEL_SIGNAL"},
      {Query("social_care", "health", "child_welfare"), v1::LEVEL_FULL,
       "allow-3",
       "allowed by allow-3 (social_care->health for child_welfare) at "
       "LEVEL_FULL"},
      {by_duty, v1::LEVEL_CATEGORY, "allow-4",
       "allowed by allow-4 (health->social_care for child_welfare) at "
       "LEVEL_CATEGORY"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.agreement_id);
    const Decision d = policy.Decide(c.query);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.level, c.level);
    EXPECT_EQ(d.agreement_id, c.agreement_id);
    EXPECT_EQ(d.policy_version, policy.version());
    ASSERT_EQ(d.reasons.size(), 1u);
    EXPECT_EQ(d.reasons[0], c.reason);
  }
}

TEST(Decide, EverythingElseIsDeniedWithItsReasons) {
  const DisclosurePolicy policy = PolicyOf(Routes());
  struct Case {
    std::string name;
    DisclosureQuery query;
    std::vector<std::string> reasons;
  };
  DisclosureQuery no_basis = Query("education", "social_care", "child_welfare");
  no_basis.basis.Clear();
  DisclosureQuery no_relationship =
      Query("education", "social_care", "child_welfare");
  no_relationship.recipient_agency_id = "malmo-soc-north";
  no_relationship.legitimate_relationship = false;
  DisclosureQuery basis_and_relationship =
      Query("social_care", "health", "child_welfare");
  basis_and_relationship.basis.Clear();
  basis_and_relationship.legitimate_relationship = false;
  DisclosureQuery all_three = Query("police", "education", "research");
  all_three.basis.Clear();
  all_three.legitimate_relationship = false;
  const Case cases[] = {
      {"different purpose",
       Query("education", "social_care", "research"),
       {"no agreement covers education to social_care for purpose "
        "\"research\""}},
      {"swapped direction",
       Query("social_care", "education", "child_welfare"),
       {"no agreement covers social_care to education for purpose "
        "\"child_welfare\""}},
      {"swapped direction of a SIGNAL route",
       Query("police", "health", "crime_prevention"),
       {"no agreement covers police to health for purpose "
        "\"crime_prevention\""}},
      {"another recipient sector",
       Query("education", "police", "child_welfare"),
       {"no agreement covers education to police for purpose "
        "\"child_welfare\""}},
      {"no legal basis on a listed route", no_basis, {"legal basis"}},
      {"no legitimate relationship on a listed route",
       no_relationship,
       {"agency \"malmo-soc-north\" has no legitimate relationship"}},
      {"no basis and no relationship",
       basis_and_relationship,
       {"legal basis", "agency \"malmo-health\" has no legitimate"}},
      {"no basis, no relationship and no route",
       all_three,
       {"legal basis", "agency \"malmo-education\" has no legitimate",
        "no agreement covers police to education for purpose \"research\""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Decision d = policy.Decide(c.query);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.level, v1::LEVEL_NONE);
    EXPECT_EQ(d.agreement_id, "");
    EXPECT_EQ(d.policy_version, policy.version());
    ExpectReasons(d, c.reasons);
  }
}

// --- RecordType ------------------------------------------------------------

TEST(RecordType, NamesEachKind) {
  struct Case {
    std::string want;
    v1::Record record;
  };
  std::vector<Case> cases(5);
  cases[0].want = "";
  cases[1].want = "health";
  cases[1].record.mutable_health()->set_clinician_notes("seen in clinic");
  cases[2].want = "social_care";
  cases[2].record.mutable_social_care()->set_key_worker("A. Lind");
  cases[3].want = "education";
  cases[3].record.mutable_education()->set_school("Rosengard skola");
  cases[4].want = "police";
  cases[4].record.mutable_police();  // set, though empty
  for (const Case& c : cases) {
    SCOPED_TRACE(c.record.DebugString());
    EXPECT_EQ(RecordType(c.record), c.want);
  }
}

// --- Abstract --------------------------------------------------------------

v1::Record ClinicRecord() {
  v1::Record r;
  v1::HealthRecord* h = r.mutable_health();
  h->mutable_subject()->set_identifier("20100314-2389");
  h->mutable_subject()->set_birth_date("2010-03-14");
  v1::PostalAddress* address = h->mutable_address();
  address->set_street("Amiralsgatan 12B");
  address->set_postcode("211 55");
  address->set_municipality("Malmo");
  address->set_country("SE");
  h->add_diagnosis_codes("F32.1");
  h->add_diagnosis_codes("F41.1");
  h->add_medications("sertraline 50 mg daily");
  h->add_medications("N06AB06");
  h->set_clinician_notes(
      "Low mood and sleep problems since the spring; mother reports "
      "withdrawal from friends. Follow-up in two weeks.");
  return r;
}

const std::vector<std::string>& ClinicFields() {
  static const auto* fields = new std::vector<std::string>{
      "health.subject", "health.address", "health.diagnosis_codes",
      "health.medications", "health.clinician_notes"};
  return *fields;
}

std::vector<std::string> FieldNames(const v1::AbstractedRecord& out) {
  std::vector<std::string> names;
  for (const v1::FieldOutcome& f : out.fields()) names.push_back(f.field());
  return names;
}

TEST(Abstract, FullKeepsTheRecordByteForByte) {
  const v1::Record record = ClinicRecord();
  const v1::AbstractedRecord out =
      Abstract(record, v1::LEVEL_FULL, "allow-list-0123456789abcdef");
  EXPECT_EQ(out.level(), v1::LEVEL_FULL);
  EXPECT_EQ(out.policy_version(), "allow-list-0123456789abcdef");
  ASSERT_TRUE(out.has_record());
  EXPECT_EQ(out.record().SerializeAsString(), record.SerializeAsString());
  EXPECT_EQ(FieldNames(out), ClinicFields());
  for (const v1::FieldOutcome& f : out.fields()) {
    SCOPED_TRACE(f.field());
    EXPECT_EQ(f.treatment(), v1::FieldOutcome::TREATMENT_KEPT);
    EXPECT_EQ(f.transform(), "keep");
  }
  EXPECT_FALSE(out.more_available_under_override());
}

TEST(Abstract, EveryLevelBelowFullLeavesNoRecordContent) {
  const v1::Record record = ClinicRecord();
  // Values that must not survive in any form.
  const std::string secrets[] = {"20100314-2389", "2010-03-14", "Amiralsgatan",
                                 "211 55",        "F32.1",      "F41.1",
                                 "sertraline",    "N06AB06",    "Low mood"};
  for (v1::Level level :
       {v1::LEVEL_SIGNAL, v1::LEVEL_CATEGORY, v1::LEVEL_SUMMARY}) {
    SCOPED_TRACE(v1::Level_Name(level));
    const v1::AbstractedRecord out = Abstract(record, level, "allow-list-x");
    EXPECT_EQ(out.level(), level);
    EXPECT_EQ(out.policy_version(), "allow-list-x");
    EXPECT_FALSE(out.has_record());
    EXPECT_EQ(out.record().record_case(), v1::Record::RECORD_NOT_SET);
    EXPECT_EQ(FieldNames(out), ClinicFields());
    for (const v1::FieldOutcome& f : out.fields()) {
      SCOPED_TRACE(f.field());
      EXPECT_EQ(f.treatment(), v1::FieldOutcome::TREATMENT_WITHHELD);
      EXPECT_EQ(f.transform(), "drop");
    }
    const std::string wire = out.SerializeAsString();
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(absl::StrContains(wire, secret)) << secret;
    }
  }
}

TEST(Abstract, NamesFieldsByTheRecordKind) {
  v1::Record record;
  v1::SocialCareRecord* s = record.mutable_social_care();
  s->add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
  s->set_key_worker("A. Lind");
  s->set_active_involvement(true);
  const v1::AbstractedRecord out = Abstract(record, v1::LEVEL_CATEGORY, "v");
  EXPECT_EQ(FieldNames(out),
            (std::vector<std::string>{"social_care.concerns",
                                      "social_care.key_worker",
                                      "social_care.active_involvement"}));
  EXPECT_FALSE(out.has_record());
}

TEST(Abstract, EmptyRecordYieldsNoFields) {
  for (v1::Level level : {v1::LEVEL_SIGNAL, v1::LEVEL_CATEGORY,
                          v1::LEVEL_SUMMARY, v1::LEVEL_FULL}) {
    SCOPED_TRACE(v1::Level_Name(level));
    const v1::AbstractedRecord out = Abstract(v1::Record(), level, "v7");
    EXPECT_EQ(out.level(), level);
    EXPECT_EQ(out.policy_version(), "v7");
    EXPECT_EQ(out.fields_size(), 0);
    EXPECT_FALSE(out.has_record());
  }
}

}  // namespace
}  // namespace liaison::policy
