#include "policy/transforms.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace liaison::policy {
namespace {

const std::vector<uint32_t> kBands = {0, 6, 13, 16, 18, 25, 65};

TEST(DateTransforms, GeneraliseValidDatesAndRefuseOthers) {
  struct Case {
    std::string in;
    std::optional<std::string> month, year;
  } cases[] = {
      {"2026-03-14", "2026-03", "2026"},
      {"1999-12-31", "1999-12", "1999"},
      {"2024-02-29", "2024-02", "2024"},
      {"2023-02-29", std::nullopt, std::nullopt},  // not a leap year
      {"2026-13-01", std::nullopt, std::nullopt},
      {"2026-3-14", std::nullopt, std::nullopt},
      {"14/03/2026", std::nullopt, std::nullopt},
      {"", std::nullopt, std::nullopt},
      {"2026-03-14T10:00", std::nullopt, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DateToMonth(c.in), c.month) << c.in;
    EXPECT_EQ(DateToYear(c.in), c.year) << c.in;
  }
}

TEST(AgeBand, PutsEachAgeInItsBandOnTheDay) {
  const absl::CivilDay on(2026, 11, 22);
  struct Case {
    std::string born;
    std::optional<std::string> band;
  } cases[] = {
      {"2026-11-22", "0-5"},   // born today
      {"2020-11-23", "0-5"},   // turns 6 tomorrow
      {"2020-11-22", "6-12"},  // turns 6 today
      {"2011-04-12", "13-15"},      {"2010-11-22", "16-17"},  // 16 today
      {"2008-11-23", "16-17"},                                // 18 tomorrow
      {"2008-11-22", "18-24"},                                // 18 today
      {"1961-11-22", "65+"},        {"1900-01-01", "65+"},
      {"2026-11-23", std::nullopt},  // not born yet
      {"2011-02-30", std::nullopt}, {"", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AgeBand(c.born, on, kBands), c.band) << c.born;
  }
}

TEST(AgeOn, CountsWholeYearsAcrossLeapDays) {
  EXPECT_EQ(AgeOn("2008-02-29", absl::CivilDay(2026, 2, 28)), 17);
  EXPECT_EQ(AgeOn("2008-02-29", absl::CivilDay(2026, 3, 1)), 18);
  EXPECT_EQ(AgeOn("2008-11-22", absl::CivilDay(2026, 11, 21)), 17);
  EXPECT_EQ(AgeOn("2008-11-22", absl::CivilDay(2026, 11, 22)), 18);
}

TEST(CodeTransforms, PrefixAndChapter) {
  v1::CodeMapping icd;
  icd.set_name("icd");
  auto add = [&icd](const char* first, const char* last, const char* ch) {
    v1::CodeRange* r = icd.add_ranges();
    r->set_first(first);
    r->set_last(last);
    r->set_chapter(ch);
  };
  add("C00", "D48", "II");
  add("D50", "D89", "III");
  add("F00", "F99", "V");
  add("S00", "T98", "XIX");
  struct Case {
    std::string code;
    std::string prefix;
    std::optional<std::string> chapter;
  } cases[] = {
      {"F32.1", "F32", "V"},        {"f32.1", "F32", "V"},
      {"F99", "F99", "V"},          {"D48.9", "D48", "II"},
      {"D49", "D49", std::nullopt},  // between two ranges
      {"D50", "D50", "III"},        {"T39.1", "T39", "XIX"},
      {"S00", "S00", "XIX"},        {"Z63", "Z63", std::nullopt},
      {"F", "F", std::nullopt},     {"", "", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CodePrefix(c.code, 3), c.prefix) << c.code;
    EXPECT_EQ(CodeChapter(c.code, icd), c.chapter) << c.code;
  }
  EXPECT_EQ(CodePrefix("F32.1", 4), "F321");
  EXPECT_EQ(CodePrefix("F32.1", 1), "F");
}

TEST(AddressTransforms, KeepOnlyWhatTheirNameSays) {
  v1::PostalAddress a;
  a.set_street("Amiralsgatan 17B");
  a.set_postcode("214 37");
  a.set_municipality("Malmo");
  a.set_country("SE");
  const v1::PostalAddress m = AddressToMunicipality(a);
  EXPECT_EQ(m.street(), "");
  EXPECT_EQ(m.postcode(), "");
  EXPECT_EQ(m.municipality(), "Malmo");
  EXPECT_EQ(m.country(), "SE");
  const v1::PostalAddress p = AddressToPostcodePrefix(a, 3);
  EXPECT_EQ(p.street(), "");
  EXPECT_EQ(p.postcode(), "214");
  EXPECT_EQ(p.municipality(), "");
  EXPECT_EQ(p.country(), "SE");
  EXPECT_EQ(AddressToPostcodePrefix(a, 16).postcode(), "21437");
}

TEST(KeyedHash, EqualValuesMatchAndTheKeyMatters) {
  const std::string a = KeyedHash("key-1", "INC-2026-0042");
  EXPECT_EQ(a, KeyedHash("key-1", "INC-2026-0042"));
  EXPECT_NE(a, KeyedHash("key-1", "INC-2026-0043"));
  EXPECT_NE(a, KeyedHash("key-2", "INC-2026-0042"));
  EXPECT_EQ(a.size(), 2u + 32u);
  EXPECT_EQ(a.find("INC"), std::string::npos);
}

TEST(TransformApplies, MatchesTransformsToFieldTypes) {
  const auto* health = v1::HealthRecord::descriptor();
  const auto* education = v1::EducationRecord::descriptor();
  auto field = [](const google::protobuf::Descriptor* d, const char* name) {
    return d->FindFieldByName(name);
  };
  EXPECT_TRUE(
      TransformApplies(v1::CODE_TO_CHAPTER, field(health, "diagnosis_codes")));
  EXPECT_TRUE(
      TransformApplies(v1::ADDRESS_TO_MUNICIPALITY, field(health, "address")));
  EXPECT_FALSE(TransformApplies(v1::ADDRESS_TO_MUNICIPALITY,
                                field(health, "clinician_notes")));
  EXPECT_FALSE(
      TransformApplies(v1::DATE_TO_MONTH, field(health, "active_involvement")));
  EXPECT_FALSE(
      TransformApplies(v1::KEYED_HASH, field(education, "attendance_percent")));
  EXPECT_TRUE(
      TransformApplies(v1::DROP, field(education, "attendance_percent")));
  EXPECT_FALSE(TransformApplies(v1::BIRTH_DATE_TO_AGE_BAND,
                                field(health, "diagnosis_codes")));
  EXPECT_FALSE(
      TransformApplies(v1::TRANSFORM_UNSPECIFIED, field(health, "risk_level")));
}

TEST(ResolveFieldPath, FollowsMessageFields) {
  const auto* health = v1::HealthRecord::descriptor();
  EXPECT_EQ(ResolveFieldPath(health, "subject.birth_date").size(), 2u);
  EXPECT_EQ(ResolveFieldPath(health, "address").size(), 1u);
  // Through a repeated message: the field of each element.
  EXPECT_EQ(ResolveFieldPath(health, "contacts.name").size(), 2u);
  EXPECT_TRUE(ResolveFieldPath(health, "medications.name").empty());
  EXPECT_TRUE(ResolveFieldPath(health, "subject.religion").empty());
  EXPECT_TRUE(ResolveFieldPath(health, "").empty());
  EXPECT_TRUE(ResolveFieldPath(health, "risk_level.x").empty());
}

}  // namespace
}  // namespace liaison::policy
