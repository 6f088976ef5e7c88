#include "broker/basics/principal.h"

#include <gtest/gtest.h>

namespace liaison {
namespace {

TEST(ParsePrincipalUri, AcceptsEveryKind) {
  absl::StatusOr<PrincipalName> agency =
      ParsePrincipalUri("liaison://agency/social_care/malmo-sc");
  ASSERT_TRUE(agency.ok()) << agency.status();
  EXPECT_EQ(agency->kind, v1::PRINCIPAL_KIND_AGENCY);
  EXPECT_EQ(agency->sector, "social_care");
  EXPECT_EQ(agency->id, "malmo-sc");
  EXPECT_EQ(agency->Uri(), "liaison://agency/social_care/malmo-sc");

  struct Case {
    const char* uri;
    v1::PrincipalKind kind;
    const char* id;
  };
  for (const Case& c :
       {Case{"liaison://auditor/dpo.1", v1::PRINCIPAL_KIND_AUDITOR, "dpo.1"},
        Case{"liaison://admin/root", v1::PRINCIPAL_KIND_ADMIN, "root"},
        Case{"liaison://broker/b1", v1::PRINCIPAL_KIND_BROKER, "b1"}}) {
    absl::StatusOr<PrincipalName> name = ParsePrincipalUri(c.uri);
    ASSERT_TRUE(name.ok()) << c.uri << ": " << name.status();
    EXPECT_EQ(name->kind, c.kind);
    EXPECT_EQ(name->id, c.id);
    EXPECT_TRUE(name->sector.empty());
    EXPECT_EQ(name->Uri(), c.uri);
  }
}

TEST(ParsePrincipalUri, RejectsMalformedNamesWithAReason) {
  struct Case {
    const char* uri;
    const char* expected_in_message;
  };
  const Case cases[] = {
      {"https://agency/health/h1", "expected liaison://"},
      {"liaison://agency/health", "liaison://agency/<sector>/<id>"},
      {"liaison://agency/health/h1/extra", "liaison://agency/<sector>/<id>"},
      {"liaison://agency//h1", "sector"},
      {"liaison://agency/Health/h1", "sector"},
      {"liaison://agency/health/H1", "lower-case"},
      {"liaison://agency/health/h%201", "may contain only"},
      {"liaison://agency/health/h1?x=1", "may contain only"},
      {"liaison://auditor/a/b", "liaison://auditor/<id>"},
      {"liaison://root/x", "unknown principal kind"},
      {"liaison://admin/", "1 to 64"},
      {"", "expected liaison://"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<PrincipalName> name = ParsePrincipalUri(c.uri);
    ASSERT_FALSE(name.ok()) << c.uri;
    EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(name.status().message().find(c.expected_in_message),
              std::string::npos)
        << c.uri << " gave: " << name.status().message();
  }
}

TEST(Validate, BoundsAndCharacters) {
  EXPECT_TRUE(ValidateSector("education").ok());
  EXPECT_FALSE(ValidateSector("9lives").ok());
  EXPECT_FALSE(ValidateSector(std::string(33, 'a')).ok());
  EXPECT_TRUE(ValidateSector(std::string(32, 'a')).ok());
  EXPECT_TRUE(ValidatePrincipalId(std::string(64, '7')).ok());
  EXPECT_FALSE(ValidatePrincipalId(std::string(65, '7')).ok());
  EXPECT_FALSE(ValidatePrincipalId("-leading").ok());
  EXPECT_FALSE(ValidatePrincipalId("sp ace").ok());
}

}  // namespace
}  // namespace liaison
