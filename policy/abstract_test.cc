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

}  // namespace
}  // namespace liaison::policy
