#include "broker/request_shape.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {
namespace {

TEST(CheckRequestShape, AWellFormedRequestPasses) {
  v1::SendReferralRequest r;
  r.set_purpose("child_welfare");
  r.set_urgency(v1::URGENCY_IMMEDIATE);
  r.add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
  r.set_requested_action(std::string(kMaxFreeText, 'a'));
  r.set_idempotency_key(std::string(kMaxShortText, 'k'));
  EXPECT_TRUE(CheckRequestShape(r).ok());
}

TEST(CheckRequestShape, NamesEveryBadFieldByPathWithoutQuotingIt) {
  v1::SendReferralRequest r;
  r.set_purpose(std::string(kMaxShortText + 1, 'P'));
  r.add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
  r.add_concerns(static_cast<v1::ConcernCategory>(500));
  r.mutable_basis()->mutable_override()->mutable_approver()->set_id(
      std::string(1000, 'A'));
  r.set_requested_action(std::string(kMaxFreeText + 1, 'R'));
  const absl::Status s = CheckRequestShape(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  EXPECT_TRUE(absl::StrContains(m, "purpose is 201 bytes; at most 200")) << m;
  EXPECT_TRUE(absl::StrContains(m, "concerns[1]: 500 is not a ConcernCategory"))
      << m;
  EXPECT_TRUE(absl::StrContains(
      m, "basis.override.approver.id is 1000 bytes; at most 200"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "requested_action is 8001 bytes")) << m;
  EXPECT_FALSE(absl::StrContains(m, "PPP")) << m;
}

TEST(CheckRequestShape, RecordsAreLeftToTheirRules) {
  v1::PushSummaryRequest r;
  r.mutable_record()->mutable_health()->set_clinician_notes(
      std::string(100000, 'n'));
  EXPECT_TRUE(CheckRequestShape(r).ok());
}

TEST(CheckRequestShape, ListsTenProblemsAndCountsTheRest) {
  v1::RecordConsentRequest r;
  for (int i = 0; i < 25; ++i)
    r.mutable_consent()->add_purposes(std::string(300, 'x'));
  const std::string m(CheckRequestShape(r).message());
  EXPECT_TRUE(absl::StrContains(m, "consent.purposes[9]")) << m;
  EXPECT_FALSE(absl::StrContains(m, "consent.purposes[10]")) << m;
  EXPECT_TRUE(absl::StrContains(m, "and 15 more")) << m;
  EXPECT_LT(m.size(), 1500u);
}

}  // namespace
}  // namespace liaison
