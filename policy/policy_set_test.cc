#include "policy/policy_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace liaison::policy {
namespace {

const char* const kFiles[] = {"agreements.textproto", "code-mappings.textproto",
                              "envelopes.textproto", "jurisdictions.textproto",
                              "records.textproto", "sectors.textproto"};

std::string DefaultDir() {
  return std::string(LIAISON_POLICY_DIR) + "/default";
}

// The default policy set's files, named as FromDirectory names them.
std::vector<PolicySource> DefaultSources() {
  std::vector<PolicySource> sources;
  for (const char* name : kFiles) {
    const std::string path = absl::StrCat(DefaultDir(), "/", name);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_TRUE(in.good() || in.eof()) << path;
    sources.push_back({path, text.str()});
  }
  return sources;
}

PolicySource& File(std::vector<PolicySource>& sources, const char* name) {
  for (PolicySource& s : sources) {
    if (absl::EndsWith(s.name, name)) return s;
  }
  ADD_FAILURE() << "no file " << name;
  return sources.front();
}

// 1-based line of the first occurrence of `needle` in `text`.
int LineOf(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

TEST(DefaultPolicySet, LoadsFromItsFolder) {
  auto set = PolicySet::FromDirectory(DefaultDir());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->merged().sectors_size(), 4);
  EXPECT_NE((*set)->FindJurisdiction("se"), nullptr);
  EXPECT_EQ((*set)->FindJurisdiction("se")->age_of_majority(), 18u);
  for (const char* type : {"health", "social_care", "education", "police"}) {
    EXPECT_NE((*set)->FindRecordRules(type), nullptr) << type;
  }
  EXPECT_GE((*set)->agreements().size(), 7u);
  EXPECT_TRUE(absl::StartsWith((*set)->version(), "p-"));
  EXPECT_EQ((*set)->version().size(), 2u + 16u);
}

TEST(PolicyVersion, IgnoresCommentsAndLayoutButNotContent) {
  auto base = PolicySet::FromSources(DefaultSources());
  ASSERT_TRUE(base.ok()) << base.status();

  std::vector<PolicySource> reformatted = DefaultSources();
  PolicySource& a = File(reformatted, "agreements.textproto");
  a.text = absl::StrCat("# a new comment\n\n",
                        absl::StrReplaceAll(a.text, {{"\n  ", "\n      "}}));
  auto same = PolicySet::FromSources(reformatted);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ((*same)->version(), (*base)->version());

  std::vector<PolicySource> changed = DefaultSources();
  PolicySource& c = File(changed, "agreements.textproto");
  const size_t at = c.text.find("consent_max_level: LEVEL_SUMMARY");
  ASSERT_NE(at, std::string::npos);
  c.text.replace(at, 32, "consent_max_level: LEVEL_CATEGORY");
  auto other = PolicySet::FromSources(changed);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->version(), (*base)->version());
}

// One mistake in one file of the default set, and the error it must get.
struct Broken {
  const char* name;
  const char* file;
  std::string old_text;
  std::string new_text;
  // Where the error must point: the first line holding this text after the
  // change.
  std::string at;
  std::string message;
};

TEST(PolicyCheck, EachMistakeIsReportedWithFileAndLine) {
  const Broken cases[] = {
      {"typo in a field name", "agreements.textproto",
       "agreements {\n  id: \"health-to-police\"",
       "agreemnts {\n  id: \"health-to-police\"", "agreemnts", "agreemnts"},
      {"unknown sector", "agreements.textproto",
       "to_sectors: \"police\"\n  purposes: \"child_welfare\"",
       "to_sectors: \"polise\"\n  purposes: \"child_welfare\"", "\"polise\"",
       "unknown sector \"polise\""},
      {"level out of range", "agreements.textproto",
       "consent_max_level: LEVEL_SIGNAL", "consent_max_level: 9",
       "consent_max_level: 9", "not a level"},
      {"unknown enum name", "agreements.textproto",
       "consent_max_level: LEVEL_SIGNAL", "consent_max_level: LEVEL_SIGNALS",
       "LEVEL_SIGNALS", "LEVEL_SIGNALS"},
      {"agreement ending before it starts", "agreements.textproto",
       "valid_until: \"2028-12-31\"", "valid_until: \"2025-12-31\"",
       "valid_until: \"2025-12-31\"", "ends before it starts"},
      {"malformed date", "agreements.textproto", "valid_until: \"2028-12-31\"",
       "valid_until: \"31/12/2028\"", "31/12/2028", "YYYY-MM-DD"},
      {"overlapping agreements", "agreements.textproto",
       "id: \"social-care-feedback\"", "id: \"social-care-feedback\"",
       "id: \"partners-feedback-to-social-care\"", ""},
      {"duplicate agreement id", "agreements.textproto",
       "id: \"police-to-social-care-welfare\"", "id: \"health-to-police\"",
       "id: \"health-to-police\"\n  description: \"The police",
       "already defined"},
      {"unknown jurisdiction", "agreements.textproto",
       "id: \"health-to-police\"",
       "id: \"health-to-police\"\n  jurisdictions: \"xx\"",
       "jurisdictions: \"xx\"", "unknown jurisdiction \"xx\""},
      {"agreement with no basis", "agreements.textproto",
       "  consent_max_level: LEVEL_CATEGORY\n  valid_from: \"2025-01-01\"",
       "  valid_from: \"2025-01-01\"",
       "agreements {\n  id: \"education-to-health-pilot-2025\"",
       "allows no basis"},
      {"two persons without overrides", "agreements.textproto",
       "override_max_level: LEVEL_CATEGORY\n  override_needs_two_persons",
       "override_needs_two_persons", "override_needs_two_persons",
       "allows no override"},
      {"an override route without provisions", "agreements.textproto",
       "  override_provisions {\n    category: OVERRIDE_CATEGORY_CHILD_PROTECTION"
       "\n    legal_provisions: \"OSL 10 kap. 21 §\"\n  }\n  override_provisions"
       " {\n    category: OVERRIDE_CATEGORY_PREVENTION_OF_SERIOUS_CRIME\n"
       "    legal_provisions: \"OSL 10 kap. 22 §\"\n"
       "    legal_provisions: \"OSL 10 kap. 24 §\"\n  }\n",
       "", "override_max_level: LEVEL_CATEGORY\n  override_needs_two_persons",
       "allows overrides but names no provisions"},
      {"a route provision its jurisdiction does not list",
       "agreements.textproto",
       "    legal_provisions: \"OSL 10 kap. 21 §\"\n  }\n  override_provisions",
       "    legal_provisions: \"OSL 10 kap. 99 §\"\n  }\n  override_provisions",
       "override_provisions {\n    category: OVERRIDE_CATEGORY_CHILD_PROTECTION\n"
       "    legal_provisions: \"OSL 10 kap. 99 §\"",
       "provision \"OSL 10 kap. 99 §\" for OVERRIDE_CATEGORY_CHILD_PROTECTION"},
      {"age of majority out of range", "jurisdictions.textproto",
       "age_of_majority: 18", "age_of_majority: 0", "age_of_majority: 0",
       "age_of_majority must be 1 to 30"},
      {"retention too long", "jurisdictions.textproto", "age_of_majority: 18",
       "age_of_majority: 18\n  retention { referral_days: 4000 }",
       "retention { referral_days: 4000 }",
       "retention.referral_days must be 1 to 3650 days"},
      {"override with no provision", "jurisdictions.textproto",
       "category: OVERRIDE_CATEGORY_SERIOUS_HARM_TO_SELF\n"
       "    legal_provisions: \"OSL 10 kap. 2 §\"",
       "category: OVERRIDE_CATEGORY_SERIOUS_HARM_TO_SELF",
       "overrides {\n    category: OVERRIDE_CATEGORY_SERIOUS_HARM_TO_SELF",
       "legal_provisions"},
      {"field with no rule", "records.textproto",
       "  fields { field: \"medications\"         signal: DROP category: "
       "DROP summary: DROP }\n",
       "", "records {\n  record_type: \"health\"",
       "no rule for field \"medications\""},
      {"rule for a field that does not exist", "records.textproto",
       "field: \"medications\"", "field: \"religion\"", "field: \"religion\"",
       "has no field \"religion\""},
      {"transform that does not fit the field", "records.textproto",
       "field: \"address\"             signal: DROP category: "
       "ADDRESS_TO_MUNICIPALITY",
       "field: \"address\"             signal: DROP category: DATE_TO_MONTH",
       "signal: DROP category: DATE_TO_MONTH summary: KEEP",
       "cannot be applied"},
      {"less at a higher level", "records.textproto",
       "field: \"risk_level\"          signal: DROP category: KEEP",
       "field: \"risk_level\"          signal: KEEP category: DROP",
       "signal: KEEP category: DROP", "gives less at a higher level"},
      {"missing transform", "records.textproto",
       "field: \"clinician_notes\"     signal: DROP category: DROP summary: "
       "DROP",
       "field: \"clinician_notes\"     signal: DROP category: DROP",
       "field: \"clinician_notes\"", "needs a summary transform"},
      {"unknown code mapping", "records.textproto",
       "mapping: \"icd10-chapters\"", "mapping: \"icd11\"",
       "field: \"diagnosis_codes\"", "mapping naming"},
      {"unknown record type", "records.textproto", "record_type: \"police\"",
       "record_type: \"polise\"", "record_type: \"polise\"",
       "unknown record type \"polise\""},
      {"overlapping code ranges", "code-mappings.textproto",
       "first: \"D50\" last: \"D89\"", "first: \"D40\" last: \"D89\"",
       "first: \"D40\"", "overlaps"},
      {"byte escape that is not UTF-8", "agreements.textproto",
       "purposes: \"crime_prevention\"", "purposes: \"crime\\377\"",
       "purposes: \"crime\\377\"", "purposes is not UTF-8 text"},
      {"a checklist step listed twice", "sectors.textproto",
       "required_checklist: MANAGER_APPROVED",
       "required_checklist: MANAGER_APPROVED\n"
       "  required_checklist: CONCERN_VERIFIED",
       "required_checklist: CONCERN_VERIFIED\n}",
       "lists CONCERN_VERIFIED twice"},
      {"envelope field with no rule", "envelopes.textproto",
       "  fields { field: \"requested_action\"   signal: DROP category: DROP "
       "summary: KEEP }\n",
       "", "envelopes {\n  message: \"referral\"",
       "envelope \"referral\" has no rule for field \"requested_action\""},
      {"envelope rule for routing metadata", "envelopes.textproto",
       "  fields { field: \"urgency\"",
       "  fields { field: \"referral_id\" signal: KEEP category: KEEP "
       "summary: KEEP }\n  fields { field: \"urgency\"",
       "field: \"referral_id\"", "is set by the broker"},
      {"envelope rule through a repeated message", "envelopes.textproto",
       "field: \"history.by\" ", "field: \"history.byy\"",
       "field: \"history.byy\"", "has no field \"history.byy\""},
      {"an agreement's envelope for a view", "agreements.textproto",
       "  override_needs_two_persons: true\n",
       "  override_needs_two_persons: true\n  envelopes { message: \"case\" "
       "}\n",
       "envelopes { message: \"case\" }",
       "is not one a disclosure decision reduces"},
      {"an agreement's envelope rule for a field the set has no rule of",
       "agreements.textproto", "  override_needs_two_persons: true\n",
       "  override_needs_two_persons: true\n  envelopes { message: "
       "\"referral\" fields { field: \"subject\" signal: KEEP category: "
       "KEEP summary: KEEP } }\n",
       "fields { field: \"subject\" signal: KEEP",
       "has no rule of its own in the set's envelope rules"},
      {"a referral's identifier hashed", "envelopes.textproto",
       "field: \"subject.identifier\" signal: KEEP category: KEEP summary: "
       "KEEP }\n  fields { field: \"subject.birth_date\" signal: DROP "
       "category: BIRTH_DATE_TO_AGE_BAND summary: KEEP }\n  fields { field: "
       "\"urgency\"",
       "field: \"subject.identifier\" signal: KEYED_HASH category: KEEP "
       "summary: KEEP }\n  fields { field: \"subject.birth_date\" signal: "
       "DROP category: BIRTH_DATE_TO_AGE_BAND summary: KEEP }\n  fields { "
       "field: \"urgency\"",
       "field: \"subject.identifier\" signal: KEYED_HASH",
       "must know whom to act for"},
      {"view envelope without its level", "envelopes.textproto",
       "  view_level: LEVEL_SIGNAL\n", "",
       "envelopes {\n  message: \"notice\"", "needs view_level"},
      {"unknown envelope", "envelopes.textproto", "message: \"summary\"\n",
       "message: \"summaries\"\n", "message: \"summaries\"",
       "unknown envelope message \"summaries\""},
      {"duplicate sector", "sectors.textproto", "name: \"police\"",
       "name: \"education\"", "name: \"education\"\n  description: \"Police",
       "already defined"},
  };
  for (const Broken& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<PolicySource> sources = DefaultSources();
    PolicySource& file = File(sources, c.file);
    const size_t at = file.text.find(c.old_text);
    ASSERT_NE(at, std::string::npos) << c.old_text;
    file.text.replace(at, c.old_text.size(), c.new_text);
    if (std::string(c.name) == "overlapping agreements") {
      // A second feedback agreement on a route the first already covers.
      file.text += R"(
agreements {
  id: "health-feedback-extra"
  from_sectors: "health"
  to_sectors: "social_care"
  purposes: "referral_feedback"
  consent_max_level: LEVEL_SIGNAL
  valid_from: "2027-01-01"
}
)";
    }
    auto set = PolicySet::FromSources(sources);
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(set.status().message());
    const std::string where =
        std::string(c.name) == "overlapping agreements"
            ? absl::StrCat(
                  file.name, ":",
                  LineOf(file.text,
                         "agreements {\n  id: \"health-feedback-extra\""),
                  ":")
            : absl::StrCat(file.name, ":", LineOf(file.text, c.at), ":");
    EXPECT_TRUE(absl::StrContains(message, where))
        << "wanted " << where << " in:\n"
        << message;
    const std::string want =
        std::string(c.name) == "overlapping agreements"
            ? "overlaps agreement \"partners-feedback-to-social-care\""
            : c.message;
    EXPECT_TRUE(absl::StrContains(message, want))
        << "wanted \"" << want << "\" in:\n"
        << message;
  }
}

TEST(PolicyCheck, MissingRecordTypeAndEmptyFolderAreErrors) {
  std::vector<PolicySource> sources = DefaultSources();
  PolicySource& records = File(sources, "records.textproto");
  const size_t at = records.text.find("records {\n  record_type: \"police\"");
  const size_t end = records.text.find("\n}\n", at);
  records.text.erase(at, end + 3 - at);
  auto set = PolicySet::FromSources(sources);
  ASSERT_FALSE(set.ok());
  EXPECT_TRUE(absl::StrContains(set.status().message(),
                                "no field rules for record type \"police\""))
      << set.status();

  EXPECT_FALSE(PolicySet::FromSources({}).ok());
  EXPECT_FALSE(PolicySet::FromDirectory("/nonexistent/policy").ok());
}

TEST(PolicyInForce, ABrokenReloadKeepsTheSetInForce) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/in-force");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const PolicySource& s : DefaultSources()) {
    std::ofstream(absl::StrCat(dir, "/", s.name.substr(s.name.rfind('/') + 1)))
        << s.text;
  }
  PolicyInForce in_force(dir);
  EXPECT_EQ(in_force.Get(), nullptr);
  auto first = in_force.Reload();
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string version = in_force.Get()->version();

  std::ofstream(dir + "/zz-broken.textproto") << "agreements { id: 3 }\n";
  auto broken = in_force.Reload();
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(
      absl::StrContains(broken.status().message(), "zz-broken.textproto:1:"))
      << broken.status();
  EXPECT_EQ(in_force.Get()->version(), version);

  std::filesystem::remove(dir + "/zz-broken.textproto");
  std::ofstream(dir + "/zz-extra.textproto")
      << "sectors { name: \"housing\" public_authority: true }\n";
  auto grown = in_force.Reload();
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_NE(in_force.Get()->version(), version);
  EXPECT_NE(in_force.Get()->FindSector("housing"), nullptr);
}

}  // namespace
}  // namespace liaison::policy
