// The override rules end to end over the real broker: an override needs a
// statement and, where the agreement asks, a second person; it alerts the
// agency whose data left, waits for an auditor's review, and escalates to
// that agency's privacy officer when the review is overdue under a moved
// clock (DESIGN.md sections 2 and 8, rule 6).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class OverrideTest : public ExchangeTest {};

TEST_F(OverrideTest, AnOverrideNeedsAStatementAndWhereAskedTwoPersons) {
  const std::string person = Person(900);
  struct Case {
    std::string name;
    std::function<void(v1::Justification*)> spoil;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"no statement", [](v1::Justification* j) { j->clear_statement(); },
       "characters"},
      {"a statement one character short",
       [](v1::Justification* j) {
         j->set_statement(std::string(kStatement).substr(0, 39));
       },
       "characters"},
      {"the approver is the assessor",
       [](v1::Justification* j) { *j->mutable_approver() = j->assessor(); },
       "distinct from the assessor"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Justification j = ValidJustification();
    c.spoil(&j);
    const size_t before = Denials();
    const v1::SendReferralRequest r = HealthReferral(
        absl::StrCat("override-", c.name), person, OverrideBasis(j), "police");
    ExpectLoggedDenial(Send(hospital_, r), before, c.why, r.basis());
  }
  EXPECT_TRUE(Log({v1::ENTRY_KIND_OVERRIDE}).empty());
  // Exactly the minimum is enough.
  auto sent = Send(hospital_,
                   HealthReferral("override-ok", person,
                                  OverrideBasis(ValidJustification(
                                      std::string(kStatement).substr(0, 40))),
                                  "police"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->level(), v1::LEVEL_CATEGORY);
  std::vector<v1::InboxMessage> at_police =
      ReadInbox(Channel(police_), 2, absl::Seconds(3), Referrals());
  ASSERT_EQ(at_police.size(), 1u);
  EXPECT_EQ(at_police[0].referral().referral_id(), sent->referral_id());
}

TEST_F(OverrideTest, AnOverrideAlertsTheAgencyWhoseDataLeftAndAwaitsReview) {
  const std::string person = Person(950);
  const Keep alert = NoticeOf(v1::Notice::KIND_OVERRIDE_ALERT);

  // A referral: the hospital's record goes to the police.
  auto sent = Send(
      hospital_, HealthReferral("alert-1", person, OverrideBasis(), "police"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->level(), v1::LEVEL_CATEGORY);
  std::vector<v1::InboxMessage> at_police =
      ReadInbox(Channel(police_), 1, absl::Seconds(10), Referrals());
  ASSERT_EQ(at_police.size(), 1u);
  EXPECT_EQ(at_police[0].referral().referral_id(), sent->referral_id());
  std::vector<v1::InboxMessage> alerts =
      ReadInbox(Channel(hospital_), 1, absl::Seconds(10), alert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(MessageIds(alerts[0].notice()),
            std::vector<std::string>{at_police[0].message_id()});
  // The recipient is not alerted.
  EXPECT_TRUE(ReadInbox(Channel(police_), 1, absl::Seconds(2), alert).empty());

  // A summary: social care, attached to the case, asks the hospital citing
  // a risk; the data leaves the hospital when it answers under its own
  // override.
  const std::string case_id = OpenCase(person, "alert-case");
  ASSERT_FALSE(case_id.empty());
  v1::Justification j = ValidJustification();
  j.mutable_assessor()->set_id("sw-7");
  j.mutable_approver()->set_id("sw-lead-1");
  auto asked =
      Ask(social_, AskHospital("alert-ask", person, OverrideBasis(j), case_id));
  ASSERT_TRUE(asked.ok()) << asked.status();
  v1::Justification own = ValidJustification();
  own.mutable_assessor()->set_id("dr-9");
  own.mutable_assessor()->set_role("paediatrician");
  auto answered = Answer(hospital_, asked->request_id(), HealthRecord(person),
                         OverrideBasis(own));
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->level(), v1::LEVEL_SUMMARY);
  std::vector<v1::InboxMessage> at_social =
      ReadInbox(Channel(social_), 1, absl::Seconds(10), Summaries());
  ASSERT_EQ(at_social.size(), 1u);
  EXPECT_EQ(at_social[0].summary().request_id(), asked->request_id());
  std::vector<v1::InboxMessage> second =
      ReadInbox(Channel(hospital_), 1, absl::Seconds(10), alert);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(MessageIds(second[0].notice()),
            std::vector<std::string>{at_social[0].message_id()});

  // Both overrides wait for an auditor's review.
  grpc::ClientContext ctx;
  v1::ListOverrideReviewsResponse reviews;
  const grpc::Status s =
      v1::Audit::NewStub(Channel(dpo_))
          ->ListOverrideReviews(&ctx, v1::ListOverrideReviewsRequest(),
                                &reviews);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::map<std::string, v1::OverrideReview> by_message;
  for (const v1::OverrideReview& r : reviews.reviews()) {
    by_message[r.entry().message_id()] = r;
  }
  ASSERT_EQ(by_message.count(sent->referral_id()), 1u);
  const v1::OverrideReview& referral_review = by_message[sent->referral_id()];
  EXPECT_EQ(referral_review.entry().kind(), v1::ENTRY_KIND_OVERRIDE);
  EXPECT_EQ(referral_review.entry().counterpart(), "police");
  EXPECT_EQ(referral_review.entry().justification().statement(), "");
  EXPECT_EQ(referral_review.entry().justification().approver().id(),
            "manager-2");
  EXPECT_EQ(referral_review.outcome(), v1::OverrideReview::OUTCOME_PENDING);
  const std::string summary_id = at_social[0].summary().summary_id();
  ASSERT_EQ(by_message.count(summary_id), 1u);
  EXPECT_EQ(by_message[summary_id].entry().kind(), v1::ENTRY_KIND_OVERRIDE);
  EXPECT_EQ(by_message[summary_id].entry().counterpart(), "social");
  EXPECT_EQ(
      by_message[summary_id].entry().justification().assessor().id(),
      "dr-9");
  EXPECT_EQ(by_message[summary_id].outcome(),
            v1::OverrideReview::OUTCOME_PENDING);
}

TEST_F(OverrideTest, AnOverdueReviewEscalatesToTheDisclosersPrivacyOfficer) {
  // The broker's clock, a minute ahead of real time so that it is after
  // every certificate's start; sweeps every second.
  const std::string clock = deployment_.root() + "/clock.txt";
  const absl::Time start =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 60);
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start));
  ASSERT_EQ(broker_->Stop(), 0);
  deployment_.AppendConfig("sweep_interval_seconds: 1");
  StartBroker({"--clock_file=" + clock});

  // Two of the hospital's overrides to the police; auditors review one in
  // time.
  const std::string person = Person(1200);
  auto first = Send(
      hospital_, HealthReferral("overdue-1", person, OverrideBasis(), "police"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Send(
      hospital_, HealthReferral("overdue-2", person, OverrideBasis(), "police"));
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<v1::LogEntry> overrides = Log({v1::ENTRY_KIND_OVERRIDE});
  ASSERT_EQ(overrides.size(), 2u);
  // The deadline is the jurisdiction's: seven days in "se".
  for (const v1::LogEntry& e : overrides) {
    EXPECT_EQ(e.review_by().seconds() - e.time().seconds(), 7 * 24 * 3600);
  }
  {
    grpc::ClientContext ctx;
    v1::ReviewOverrideRequest req;
    req.set_log_sequence(overrides[1].sequence());
    req.set_outcome(v1::OverrideReview::OUTCOME_JUSTIFIED);
    v1::ReviewOverrideResponse resp;
    grpc::Status s =
        v1::Audit::NewStub(Channel(dpo_))->ReviewOverride(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const Keep overdue = NoticeOf(v1::Notice::KIND_OVERRIDE_REVIEW_OVERDUE);
  // Six days on nothing is due yet.
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start + absl::Hours(24 * 6)));
  EXPECT_TRUE(
      ReadInbox(Channel(hospital_), 1, absl::Seconds(3), overdue).empty());

  // Eight days on the unreviewed one is overdue: its agency's privacy
  // officer hears of it, once; the recipient does not.
  ASSERT_NO_FATAL_FAILURE(SetClock(clock, start + absl::Hours(24 * 8)));
  std::vector<v1::InboxMessage> notices =
      ReadInbox(Channel(hospital_), 2, absl::Seconds(5), overdue);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].notice().log_sequence(), overrides[0].sequence());
  EXPECT_TRUE(absl::StrContains(notices[0].notice().text(), "privacy officer"))
      << notices[0].notice().text();
  EXPECT_TRUE(
      ReadInbox(Channel(police_), 1, absl::Seconds(2), overdue).empty());
}

}  // namespace
}  // namespace liaison::testing
