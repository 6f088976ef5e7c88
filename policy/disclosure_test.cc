#include "policy/disclosure.h"

#include <gtest/gtest.h>

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

DisclosureQuery Query(const std::string& from, const std::string& to,
                      const std::string& purpose) {
  DisclosureQuery q;
  q.sender_agency_id = from + "-1";
  q.sender_sector = from;
  q.recipient_agency_id = to + "-1";
  q.recipient_sector = to;
  q.purpose = purpose;
  q.basis.set_consent_id("consent-1");
  q.legitimate_relationship = true;
  return q;
}

DisclosurePolicy Policy() {
  auto policy = DisclosurePolicy::FromAllowList(
      {Allow("education", "social_care", "child_welfare", v1::LEVEL_SUMMARY),
       Allow("health", "police", "crime_prevention", v1::LEVEL_SIGNAL)});
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

TEST(AllowList, InvalidEntriesAreRefusedNamingTheEntry) {
  struct Case {
    std::string name;
    v1::DisclosureAllowance entry;
    std::string message;
  };
  const Case cases[] = {
      {"no from", Allow("", "police", "p", v1::LEVEL_SIGNAL), "entry 2"},
      {"no to", Allow("health", "", "p", v1::LEVEL_SIGNAL), "entry 2"},
      {"no purpose", Allow("health", "police", "", v1::LEVEL_SIGNAL),
       "entry 2"},
      {"level none", Allow("health", "police", "p", v1::LEVEL_NONE),
       "LEVEL_SIGNAL to LEVEL_FULL"},
      {"level out of range",
       Allow("health", "police", "p", static_cast<v1::Level>(9)),
       "LEVEL_SIGNAL to LEVEL_FULL"},
      {"duplicate",
       Allow("education", "social_care", "child_welfare", v1::LEVEL_SIGNAL),
       "repeats"},
  };
  for (const Case& c : cases) {
    auto policy = DisclosurePolicy::FromAllowList(
        {Allow("education", "social_care", "child_welfare", v1::LEVEL_SUMMARY),
         c.entry});
    ASSERT_FALSE(policy.ok()) << c.name;
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(policy.status().message(), c.message))
        << c.name << ": " << policy.status().message();
  }
}

TEST(AllowList, VersionFollowsContent) {
  EXPECT_EQ(Policy().version(), Policy().version());
  auto changed = DisclosurePolicy::FromAllowList(
      {Allow("education", "social_care", "child_welfare", v1::LEVEL_CATEGORY),
       Allow("health", "police", "crime_prevention", v1::LEVEL_SIGNAL)});
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(changed->version(), Policy().version());
}

TEST(Decide, AllowsOnlyListedRoutesAtTheirLevel) {
  const DisclosurePolicy policy = Policy();
  Decision d =
      policy.Decide(Query("education", "social_care", "child_welfare"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.level, v1::LEVEL_SUMMARY);
  EXPECT_EQ(d.agreement_id, "allow-1");
  EXPECT_EQ(d.policy_version, policy.version());

  d = policy.Decide(Query("health", "police", "crime_prevention"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.level, v1::LEVEL_SIGNAL);
  EXPECT_EQ(d.agreement_id, "allow-2");

  struct Case {
    std::string name;
    DisclosureQuery query;
    std::string reason;
  };
  DisclosureQuery no_basis = Query("education", "social_care", "child_welfare");
  no_basis.basis.Clear();
  DisclosureQuery no_relationship =
      Query("education", "social_care", "child_welfare");
  no_relationship.legitimate_relationship = false;
  const Case denied[] = {
      {"other purpose", Query("education", "social_care", "research"),
       "no agreement covers education to social_care for purpose "
       "\"research\""},
      {"reverse direction", Query("social_care", "education", "child_welfare"),
       "no agreement covers social_care to education"},
      {"other recipient", Query("education", "police", "child_welfare"),
       "no agreement covers education to police"},
      {"no basis", no_basis, "no legal basis"},
      {"no relationship", no_relationship,
       "\"social_care-1\" has no legitimate relationship"},
  };
  for (const Case& c : denied) {
    d = policy.Decide(c.query);
    EXPECT_FALSE(d.allowed) << c.name;
    EXPECT_EQ(d.level, v1::LEVEL_NONE) << c.name;
    EXPECT_TRUE(d.agreement_id.empty()) << c.name;
    ASSERT_FALSE(d.reasons.empty()) << c.name;
    EXPECT_TRUE(absl::StrContains(d.reasons[0], c.reason))
        << c.name << ": " << d.reasons[0];
  }

  // Several problems give several reasons.
  DisclosureQuery everything_wrong = Query("police", "health", "x");
  everything_wrong.basis.Clear();
  everything_wrong.legitimate_relationship = false;
  EXPECT_EQ(policy.Decide(everything_wrong).reasons.size(), 3u);
}

TEST(Decide, EmptyAllowListDeniesEverything) {
  auto policy = DisclosurePolicy::FromAllowList({});
  ASSERT_TRUE(policy.ok());
  Decision d =
      policy->Decide(Query("education", "social_care", "child_welfare"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.level, v1::LEVEL_NONE);
}

v1::Record HealthRecord() {
  v1::Record r;
  v1::HealthRecord* h = r.mutable_health();
  h->mutable_subject()->set_identifier("19850101-1234");
  h->mutable_subject()->set_birth_date("1985-01-01");
  h->mutable_address()->set_street("Storgatan 1");
  h->mutable_address()->set_municipality("Malmo");
  h->add_diagnosis_codes("F32.1");
  h->add_medications("sertraline 50 mg");
  h->set_clinician_notes("Low mood since spring.");
  return r;
}

TEST(RecordType, NamesEachKind) {
  v1::Record r;
  EXPECT_EQ(RecordType(r), "");
  r.mutable_health();
  EXPECT_EQ(RecordType(r), "health");
  r.mutable_social_care();
  EXPECT_EQ(RecordType(r), "social_care");
  r.mutable_education();
  EXPECT_EQ(RecordType(r), "education");
  r.mutable_police();
  EXPECT_EQ(RecordType(r), "police");
}

TEST(Abstract, FullKeepsTheRecordAsSent) {
  const v1::Record record = HealthRecord();
  v1::AbstractedRecord out = Abstract(record, v1::LEVEL_FULL, "v1");
  EXPECT_EQ(out.level(), v1::LEVEL_FULL);
  EXPECT_EQ(out.policy_version(), "v1");
  EXPECT_EQ(out.record().SerializeAsString(), record.SerializeAsString());
  ASSERT_EQ(out.fields_size(), 5);
  EXPECT_EQ(out.fields(0).field(), "health.subject");
  for (const v1::FieldOutcome& f : out.fields()) {
    EXPECT_EQ(f.treatment(), v1::FieldOutcome::TREATMENT_KEPT) << f.field();
  }
}

TEST(Abstract, BelowFullNothingOfTheRecordIsLeft) {
  for (v1::Level level : {v1::LEVEL_NONE, v1::LEVEL_SIGNAL, v1::LEVEL_CATEGORY,
                          v1::LEVEL_SUMMARY}) {
    v1::AbstractedRecord out = Abstract(HealthRecord(), level, "v1");
    EXPECT_EQ(out.level(), level);
    EXPECT_FALSE(out.has_record()) << level;
    ASSERT_EQ(out.fields_size(), 5) << level;
    for (const v1::FieldOutcome& f : out.fields()) {
      EXPECT_EQ(f.treatment(), v1::FieldOutcome::TREATMENT_WITHHELD)
          << f.field();
    }
    EXPECT_TRUE(absl::StrContains(out.DebugString(), "health.diagnosis_codes"));
    EXPECT_FALSE(absl::StrContains(out.DebugString(), "F32"));
  }
  EXPECT_EQ(Abstract(v1::Record(), v1::LEVEL_FULL, "v1").fields_size(), 0);
}

}  // namespace
}  // namespace liaison::policy
