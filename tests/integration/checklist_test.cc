// The pre-sharing checklist a health sender must complete, end to end over
// the real broker: each missing step is named in a logged denial, nothing
// is delivered, and a disclosure's entry records the steps confirmed
// (DESIGN.md sections 2 and 8).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class ChecklistTest : public ExchangeTest {};

TEST_F(ChecklistTest, AHealthReferralNeedsEveryChecklistStepThePolicyRequires) {
  const std::string person = Person(1000);
  const v1::LegalBasis basis = ConsentBasis(
      MustRecord(hospital_, SubjectConsent(person, {AgencyParty("hospital")},
                                           {SectorParty("social_care")})));
  const std::vector<std::string> steps = {"concern_verified", "person_informed",
                                          "colleague_or_expert_consulted",
                                          "manager_approved"};
  struct Case {
    std::string name;
    std::function<void(v1::PreSharingChecklist*)> change;
    std::set<std::string> missing;
  };
  const std::vector<Case> cases = {
      {"nothing confirmed",
       [](v1::PreSharingChecklist* c) {
         c->set_concern_verified(false);
         c->set_person_informed(false);
         c->set_colleague_or_expert_consulted(false);
         c->set_manager_approved(false);
       },
       {"concern_verified", "person_informed", "colleague_or_expert_consulted",
        "manager_approved"}},
      {"concern not verified",
       [](v1::PreSharingChecklist* c) { c->set_concern_verified(false); },
       {"concern_verified"}},
      {"person not informed, no reason given",
       [](v1::PreSharingChecklist* c) { c->set_person_informed(false); },
       {"person_informed"}},
      {"nobody consulted",
       [](v1::PreSharingChecklist* c) {
         c->set_colleague_or_expert_consulted(false);
       },
       {"colleague_or_expert_consulted"}},
      {"no manager approval",
       [](v1::PreSharingChecklist* c) { c->set_manager_approved(false); },
       {"manager_approved"}},
      {"two steps missing",
       [](v1::PreSharingChecklist* c) {
         c->set_concern_verified(false);
         c->set_manager_approved(false);
       },
       {"concern_verified", "manager_approved"}},
      {"not informed for a reason, no manager approval",
       [](v1::PreSharingChecklist* c) {
         c->set_person_informed(false);
         c->set_person_not_informed_reason(
             "telling the parents would put the child at risk");
         c->set_manager_approved(false);
       },
       {"manager_approved"}},
  };
  const uint64_t logged = TreeSize();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::SendReferralRequest r =
        HealthReferral(absl::StrCat("checklist-", c.name), person, basis);
    c.change(r.mutable_checklist());
    auto result = Send(hospital_, r);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
        << result.status();
    for (const std::string& step : steps) {
      EXPECT_EQ(absl::StrContains(result.status().message(), step),
                c.missing.count(step) == 1)
          << step << " in: " << result.status();
    }
  }
  v1::SendReferralRequest none =
      HealthReferral("checklist-none", person, basis);
  none.clear_checklist();
  EXPECT_EQ(Send(hospital_, none).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Nothing was delivered; each refusal is a logged denial (DESIGN.md rule
  // 3) naming what the checklist did not confirm.
  EXPECT_EQ(TreeSize(), logged + cases.size() + 1);
  const std::vector<v1::LogEntry> denials = Log({v1::ENTRY_KIND_DENIAL});
  ASSERT_GE(denials.size(), cases.size() + 1);
  const v1::LogEntry& last = denials.back();
  EXPECT_TRUE(absl::StrContains(last.reason(), "pre-sharing checklist"))
      << last.reason();
  EXPECT_TRUE(last.checklist_attested().empty());
  EXPECT_TRUE(
      ReadInbox(Channel(social_), 1, absl::Seconds(2), Referrals()).empty());

  // Not informed, with the reason recorded, and every other step done.
  v1::SendReferralRequest good = HealthReferral("checklist-ok", person, basis);
  good.mutable_checklist()->set_person_informed(false);
  good.mutable_checklist()->set_person_not_informed_reason(
      "telling the parents would put the child at risk");
  auto sent = Send(hospital_, good);
  ASSERT_TRUE(sent.ok()) << sent.status();
  std::vector<v1::InboxMessage> inbox =
      ReadInbox(Channel(social_), 2, absl::Seconds(3), Referrals());
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].referral().referral_id(), sent->referral_id());
  // The disclosure's entry records the steps confirmed.
  const std::vector<v1::LogEntry> disclosures =
      Log({v1::ENTRY_KIND_DISCLOSURE});
  ASSERT_FALSE(disclosures.empty());
  EXPECT_EQ(std::vector<std::string>(
                disclosures.back().checklist_attested().begin(),
                disclosures.back().checklist_attested().end()),
            (std::vector<std::string>{
                "concern_verified", "person_not_informed_reason",
                "colleague_or_expert_consulted", "manager_approved",
                "risk_assessment_reference"}));
}

}  // namespace
}  // namespace liaison::testing
