// Summaries decided on a consent basis over the real broker (DESIGN.md
// sections 2 and 5, rule 5): a pushed summary reaches only the recipients
// the consent names and nothing once it is withdrawn; a request names the
// holder as the disclosing party, and its answer is decided again on the
// consent as it stands when the holder answers.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class ConsentTest : public ExchangeTest {};

TEST_F(ConsentTest, SummariesAreDecidedOnTheConsentToo) {
  const std::string person = Person(700);
  const std::string case_id = OpenCase(person, "open");
  ASSERT_FALSE(case_id.empty());

  // A push: social care to the school, attached to the case.
  const std::string push_consent = MustRecord(
      social_, SubjectConsent(person, {AgencyParty("social")},
                              {SectorParty("education")}, v1::LEVEL_SIGNAL));
  auto pushed = Push(social_, SocialPush("push-1", case_id, person,
                                         ConsentBasis(push_consent)));
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  ASSERT_EQ(pushed->deliveries_size(), 1);
  EXPECT_EQ(pushed->deliveries(0).agency_id(), "school");
  EXPECT_EQ(pushed->deliveries(0).level(), v1::LEVEL_SIGNAL);
  // Under a consent that does not name the school, the school gets
  // nothing and the denial is logged.
  const std::string not_school = MustRecord(
      social_,
      SubjectConsent(person, {AgencyParty("social")}, {SectorParty("police")}));
  size_t denials = Denials();
  auto denied = Push(
      social_, SocialPush("push-2", case_id, person, ConsentBasis(not_school)));
  ASSERT_TRUE(denied.ok()) << denied.status();
  ASSERT_EQ(denied->deliveries_size(), 1);
  EXPECT_EQ(denied->deliveries(0).level(), v1::LEVEL_NONE);
  EXPECT_TRUE(
      absl::StrContains(denied->deliveries(0).reason(), "as a recipient"))
      << denied->deliveries(0).reason();
  EXPECT_EQ(Denials(), denials + 1);
  // Withdrawn, the consent pushes nothing more.
  ASSERT_TRUE(WithdrawAs(social_, push_consent).ok());
  denials = Denials();
  auto after_withdrawal = Push(social_, SocialPush("push-3", case_id, person,
                                                   ConsentBasis(push_consent)));
  ASSERT_TRUE(after_withdrawal.ok()) << after_withdrawal.status();
  ASSERT_EQ(after_withdrawal->deliveries_size(), 1);
  EXPECT_EQ(after_withdrawal->deliveries(0).level(), v1::LEVEL_NONE);
  EXPECT_TRUE(absl::StrContains(after_withdrawal->deliveries(0).reason(),
                                "was withdrawn"))
      << after_withdrawal->deliveries(0).reason();
  EXPECT_EQ(Denials(), denials + 1);
  std::vector<v1::InboxMessage> at_school =
      ReadInbox(Channel(school_), 3, absl::Seconds(3), Summaries());
  ASSERT_EQ(at_school.size(), 1u);
  EXPECT_EQ(at_school[0].summary().summary_id(), pushed->summary_id());

  // A request: the holder is the disclosing party, the requester the
  // recipient.
  const std::string ask_consent = MustRecord(
      social_, SubjectConsent(person, {AgencyParty("hospital")},
                              {AgencyParty("social")}, v1::LEVEL_SIGNAL));
  const std::string names_school = MustRecord(
      social_,
      SubjectConsent(person, {AgencyParty("school")}, {AgencyParty("social")}));
  struct Bad {
    std::string name;
    std::string consent_id;
    std::string why;
  };
  const std::vector<Bad> bad = {
      {"the holder is not a disclosing party", names_school,
       "as a disclosing party"},
      {"unknown consent", "con-00000000000000000000000000000000",
       "not in the consent registry"},
      {"a consent about another person",
       MustRecord(social_,
                  SubjectConsent(Person(701), {AgencyParty("hospital")},
                                 {AgencyParty("social")})),
       "about another person"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.name);
    denials = Denials();
    const v1::RequestSummaryRequest ask = AskHospital(
        absl::StrCat("ask-", b.name), person, ConsentBasis(b.consent_id));
    ExpectLoggedDenial(Ask(social_, ask), denials, b.why, ask.basis());
  }
  auto asked =
      Ask(social_, AskHospital("ask-1", person, ConsentBasis(ask_consent)));
  ASSERT_TRUE(asked.ok()) << asked.status();
  // A second request under a consent withdrawn before the answer.
  const std::string short_lived =
      MustRecord(social_, SubjectConsent(person, {AgencyParty("hospital")},
                                         {AgencyParty("social")}));
  auto asked_again =
      Ask(social_, AskHospital("ask-2", person, ConsentBasis(short_lived)));
  ASSERT_TRUE(asked_again.ok()) << asked_again.status();
  std::vector<v1::InboxMessage> at_hospital = ReadInbox(
      Channel(hospital_), 2, absl::Seconds(10),
      [](const v1::InboxMessage& m) { return m.has_summary_request(); });
  ASSERT_EQ(at_hospital.size(), 2u);

  // The answer is decided again: at the consent's level...
  auto answered = Answer(hospital_, asked->request_id(), HealthRecord(person));
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->level(), v1::LEVEL_SIGNAL);
  // ...and not at all once the consent is withdrawn.
  ASSERT_TRUE(WithdrawAs(social_, short_lived).ok());
  denials = Denials();
  ExpectLoggedDenial(
      Answer(hospital_, asked_again->request_id(), HealthRecord(person)),
      denials, "was withdrawn", ConsentBasis(short_lived));

  std::vector<v1::InboxMessage> at_social =
      ReadInbox(Channel(social_), 3, absl::Seconds(3), Summaries());
  ASSERT_EQ(at_social.size(), 1u);
  EXPECT_EQ(at_social[0].summary().request_id(), asked->request_id());
  EXPECT_EQ(at_social[0].summary().record().level(), v1::LEVEL_SIGNAL);
}

}  // namespace
}  // namespace liaison::testing
