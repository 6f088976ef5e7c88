// Referrals end to end over the real broker: store-and-forward delivery,
// leases, idempotency, the lifecycle, and every refusal changing nothing
// (DESIGN.md sections 5 to 7).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies { id: "st-olavs" sector: "health" area: "malmo" }
  agencies { id: "malmo-sc" sector: "social_care" area: "malmo" }
  agencies { id: "rosengard-school" sector: "education" area: "malmo" }
  agencies { id: "malmo-police" sector: "police" area: "malmo" }
  routes { sector: "social_care" area: "malmo" agency_id: "malmo-sc" }
)pb";

// The routes these tests send on, replacing the default agreements:
// health's route gives FULL so a record can be seen arriving as sent.
constexpr char kAgreements[] = R"pb(
  agreements {
    id: "school-to-social-care"
    from_sectors: "education"
    to_sectors: "social_care"
    purposes: "child_welfare"
    consent_max_level: LEVEL_SUMMARY
    valid_from: "2026-01-01"
  }
  agreements {
    id: "health-to-social-care"
    from_sectors: "health"
    to_sectors: "social_care"
    purposes: "child_welfare"
    consent_max_level: LEVEL_FULL
    valid_from: "2026-01-01"
  }
  agreements {
    id: "social-care-feedback"
    from_sectors: "social_care"
    to_sectors: "education"
    to_sectors: "health"
    to_sectors: "police"
    purposes: "referral_feedback"
    consent_max_level: LEVEL_CATEGORY
    statutory_duties {
      id: "se-sol-14-1a"
      legal_provision: "SoL 14 kap. 1 a §"
      max_level: LEVEL_SIGNAL
    }
    valid_from: "2026-01-01"
  }
  agreements {
    id: "police-to-social-care"
    from_sectors: "police"
    to_sectors: "social_care"
    purposes: "child_welfare"
    consent_max_level: LEVEL_CATEGORY
    valid_from: "2026-01-01"
  }
)pb";

class ReferralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    deployment_.AppendConfig("max_message_bytes: 65536");
    deployment_.WritePolicyFile("agreements.textproto", kAgreements);
    school_ = deployment_.Issue(
        {"agency", "--sector=education", "--id=rosengard-school"});
    social_ =
        deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc"});
    health_ = deployment_.Issue({"agency", "--sector=health", "--id=st-olavs"});
    police_ =
        deployment_.Issue({"agency", "--sector=police", "--id=malmo-police"});
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
    consent_ = RecordConsentFromSubject(
        ChannelFor(*broker_, deployment_.ca_cert(), school_), "20110304-1234");
  }

  std::unique_ptr<v1::Exchange::Stub> Stub(const Credentials& c) {
    return v1::Exchange::NewStub(
        ChannelFor(*broker_, deployment_.ca_cert(), c));
  }

  // What a health sender must add to a referral.
  static void AddChecklist(v1::SendReferralRequest* r) {
    ConfirmChecklist(r->mutable_checklist());
    r->mutable_checklist()->set_risk_assessment_reference("RA-2026-17");
  }

  v1::SendReferralRequest SchoolReferral(const std::string& key) const {
    v1::SendReferralRequest r = SchoolAbsenceReferral("", "20110304-1234");
    r.set_idempotency_key(key);
    // Routed by sector and area rather than to an agency.
    r.mutable_destination()->mutable_sector_in_area()->set_sector(
        "social_care");
    r.mutable_destination()->mutable_sector_in_area()->set_area("malmo");
    r.mutable_subject()->set_birth_date("2011-03-04");
    r.set_requested_action("assess family support needs");
    v1::EducationRecord* e = r.mutable_record()->mutable_education();
    e->set_attendance_percent(61.5);
    e->set_teacher_notes("Often arrives without breakfast.");
    r.mutable_basis()->set_consent_id(consent_);
    return r;
  }

  absl::StatusOr<v1::SendReferralResponse> Send(
      const Credentials& c, const v1::SendReferralRequest& r) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "t-42");
    ctx.AddMetadata("liaison-professional-role", "school nurse");
    v1::SendReferralResponse resp;
    grpc::Status s = Stub(c)->SendReferral(&ctx, r, &resp);
    return ToStatusOr(s, resp);
  }

  // Reads `n` messages from the inbox stream (without acknowledging them),
  // or fewer if `wait` passes first.
  std::vector<v1::InboxMessage> ReadInbox(
      const Credentials& c, size_t n, uint32_t lease_seconds = 60,
      absl::Duration wait = absl::Seconds(20)) {
    InboxRead how;
    how.wait = wait;
    how.lease_seconds = lease_seconds;
    return liaison::testing::ReadInbox(
        ChannelFor(*broker_, deployment_.ca_cert(), c), n, how);
  }

  grpc::Status Ack(const Credentials& c, const std::string& id) {
    grpc::ClientContext ctx;
    v1::AckRequest req;
    req.set_message_id(id);
    v1::AckResponse resp;
    return Stub(c)->Ack(&ctx, req, &resp);
  }

  absl::StatusOr<v1::Referral> Update(const Credentials& c,
                                      const std::string& id,
                                      v1::ReferralStatus status,
                                      const std::string& detail = "",
                                      const std::string& duty = "") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "sw-7");
    v1::UpdateReferralRequest req;
    req.set_referral_id(id);
    req.set_status(status);
    req.set_detail(detail);
    if (!duty.empty()) req.mutable_basis()->set_statutory_duty(duty);
    v1::Referral resp;
    grpc::Status s = Stub(c)->UpdateReferral(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return resp;
  }

  absl::StatusOr<v1::Referral> Get(const Credentials& c,
                                   const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetReferralRequest req;
    req.set_referral_id(id);
    v1::Referral resp;
    grpc::Status s = Stub(c)->GetReferral(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return resp;
  }

  Deployment deployment_;
  Credentials school_, social_, health_, police_;
  // A consent from the pupil every referral here relies on.
  std::string consent_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(ReferralTest, HappyPathThroughTheLifecycle) {
  auto sent = Send(school_, SchoolReferral("k-1"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->recipient_agency_id(), "malmo-sc");
  EXPECT_EQ(sent->level(), v1::LEVEL_SUMMARY);
  EXPECT_FALSE(sent->case_id().empty());
  EXPECT_FALSE(sent->policy_version().empty());

  std::vector<v1::InboxMessage> inbox = ReadInbox(social_, 1);
  ASSERT_EQ(inbox.size(), 1u);
  const v1::InboxMessage& arrived = inbox[0];
  ASSERT_TRUE(arrived.has_referral());
  EXPECT_EQ(arrived.referral().referral_id(), sent->referral_id());
  EXPECT_EQ(arrived.referral().sender_agency_id(), "rosengard-school");
  // Whom to act for reaches the named recipient whatever the level.
  EXPECT_EQ(arrived.referral().subject().identifier(), "20110304-1234");
  EXPECT_EQ(arrived.referral().record().level(), v1::LEVEL_SUMMARY);
  // The record is reduced to SUMMARY by the policy's field rules: the
  // teacher's notes never leave the school below FULL, and the recipient
  // is told so.
  const v1::AbstractedRecord& view = arrived.referral().record();
  EXPECT_EQ(view.record().education().school(), "Rosengard School");
  EXPECT_EQ(view.record().education().attendance_percent(), 61.5);
  EXPECT_EQ(view.record().education().teacher_notes(), "");
  EXPECT_EQ(view.policy_version(), sent->policy_version());
  ASSERT_EQ(view.fields_size(), 12);
  bool notes_withheld = false;
  for (const auto& f : view.fields()) {
    if (f.field() == "education.teacher_notes") {
      notes_withheld = f.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD;
    }
  }
  EXPECT_TRUE(notes_withheld);
  EXPECT_EQ(arrived.delivery_attempt(), 1u);

  ASSERT_TRUE(Ack(social_, arrived.message_id()).ok());
  const std::string id = sent->referral_id();
  ASSERT_TRUE(Update(social_, id, v1::REFERRAL_STATUS_ACKNOWLEDGED).ok());
  ASSERT_TRUE(Update(social_, id, v1::REFERRAL_STATUS_ACCEPTED).ok());
  auto closed = Update(social_, id, v1::REFERRAL_STATUS_CLOSED,
                       "family support plan agreed");
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->status(), v1::REFERRAL_STATUS_CLOSED);

  // The referrer hears of every change, in order.
  std::vector<v1::InboxMessage> updates = ReadInbox(school_, 4);
  ASSERT_EQ(updates.size(), 4u);
  const v1::ReferralStatus expected[] = {
      v1::REFERRAL_STATUS_DELIVERED, v1::REFERRAL_STATUS_ACKNOWLEDGED,
      v1::REFERRAL_STATUS_ACCEPTED, v1::REFERRAL_STATUS_CLOSED};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(updates[i].has_referral_update()) << i;
    EXPECT_EQ(updates[i].referral_update().status(), expected[i]) << i;
    EXPECT_EQ(updates[i].referral_id(), id);
  }
  // Fed back under the referral's consent at CATEGORY: the outcome, not
  // who wrote it.
  EXPECT_EQ(updates[3].referral_update().detail(),
            "family support plan agreed");
  EXPECT_EQ(updates[3].referral_update().feedback_level(), v1::LEVEL_CATEGORY);
  EXPECT_FALSE(updates[3].referral_update().has_by());

  for (const Credentials* party : {&school_, &social_}) {
    auto seen = Get(*party, id);
    ASSERT_TRUE(seen.ok()) << seen.status();
    ASSERT_EQ(seen->history_size(), 5);
    EXPECT_EQ(seen->history(0).status(), v1::REFERRAL_STATUS_SENT);
    EXPECT_EQ(seen->history(0).by().role(), "school nurse");
    EXPECT_EQ(seen->history(4).status(), v1::REFERRAL_STATUS_CLOSED);
  }
  // Nobody else learns the referral exists.
  EXPECT_EQ(Get(police_, id).status().code(), absl::StatusCode::kNotFound);
}

// Telling the referrer is a disclosure on the reverse route (DESIGN.md
// rule 8): decided and logged, delivered at its level, or not at all.
TEST_F(ReferralTest, FeedbackReachesTheSenderAtTheReverseRoutesLevel) {
  // A consent for the referral that does not cover feedback.
  v1::SendReferralRequest r = SchoolReferral("fb-1");
  r.mutable_basis()->set_consent_id(RecordConsentFromSubject(
      ChannelFor(*broker_, deployment_.ca_cert(), school_), "20110304-1234",
      {"child_welfare"}));
  auto sent = Send(school_, r);
  ASSERT_TRUE(sent.ok()) << sent.status();
  const std::string id = sent->referral_id();
  std::vector<v1::InboxMessage> arrived = ReadInbox(social_, 1);
  ASSERT_EQ(arrived.size(), 1u);
  ASSERT_TRUE(Ack(social_, arrived[0].message_id()).ok());

  // No basis covers telling the school: the change is made, the school is
  // not told.
  auto acknowledged = Update(social_, id, v1::REFERRAL_STATUS_ACKNOWLEDGED);
  ASSERT_TRUE(acknowledged.ok()) << acknowledged.status();
  EXPECT_EQ(acknowledged->status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(acknowledged->history(2).feedback_level(), v1::LEVEL_NONE);
  // The duty to tell a reporter whether an investigation was opened: at
  // SIGNAL, the status without the outcome's words.
  ASSERT_TRUE(
      Update(social_, id, v1::REFERRAL_STATUS_ACCEPTED, "", "se-sol-14-1a")
          .ok());
  auto closed = Update(social_, id, v1::REFERRAL_STATUS_CLOSED,
                       "placed with relatives", "se-sol-14-1a");
  ASSERT_TRUE(closed.ok()) << closed.status();
  // A duty the reverse agreement does not name tells nothing either, and a
  // bad move is refused before anything is decided.
  EXPECT_EQ(
      Update(social_, id, v1::REFERRAL_STATUS_ACCEPTED, "", "se-sol-14-1a")
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);

  std::vector<v1::InboxMessage> updates =
      ReadInbox(school_, 4, 60, absl::Seconds(5));
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(updates[0].referral_update().status(),
            v1::REFERRAL_STATUS_DELIVERED);
  EXPECT_EQ(updates[1].referral_update().status(),
            v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(updates[2].referral_update().status(), v1::REFERRAL_STATUS_CLOSED);
  EXPECT_EQ(updates[2].referral_update().feedback_level(), v1::LEVEL_SIGNAL);
  EXPECT_EQ(updates[2].referral_update().detail(), "");
  EXPECT_FALSE(updates[2].referral_update().has_by());

  // The school's view of the history matches what it was told; social
  // care keeps everything.
  auto school_view = Get(school_, id);
  ASSERT_TRUE(school_view.ok());
  ASSERT_EQ(school_view->history_size(), 4);
  EXPECT_EQ(school_view->history(2).status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(school_view->history(3).detail(), "");
  EXPECT_EQ(school_view->status(), v1::REFERRAL_STATUS_CLOSED);
  auto social_view = Get(social_, id);
  ASSERT_TRUE(social_view.ok());
  ASSERT_EQ(social_view->history_size(), 5);
  EXPECT_EQ(social_view->history(4).detail(), "placed with relatives");
  EXPECT_EQ(social_view->history(4).by().id(), "sw-7");
}

TEST_F(ReferralTest, OfflineRecipientReceivesEverythingInOrder) {
  // Referrals from the three other demo agencies, in turn.
  std::vector<std::string> ids;
  const Credentials* senders[] = {&school_, &health_, &police_};
  for (int i = 0; i < 21; ++i) {
    auto sent = Send(*senders[i % 3], [&] {
      auto r = SchoolReferral("offline-" + std::to_string(i));
      if (i % 3 == 1) {
        r.mutable_destination()->set_agency_id("malmo-sc");
        r.mutable_record()->mutable_health()->add_diagnosis_codes("F32.1");
        AddChecklist(&r);
      } else if (i % 3 == 2) {
        r.mutable_record()->mutable_police()->add_incident_references(
            "2026-0042");
      }
      return r;
    }());
    ASSERT_TRUE(sent.ok()) << i << ": " << sent.status();
    ids.push_back(sent->referral_id());
  }
  std::vector<v1::InboxMessage> inbox = ReadInbox(social_, 21);
  ASSERT_EQ(inbox.size(), 21u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(inbox[i].referral().referral_id(), ids[i]) << i;
  }
  // Health's route is allowed at FULL: its record arrives as sent.
  EXPECT_EQ(inbox[1].referral().record().level(), v1::LEVEL_FULL);
  EXPECT_EQ(inbox[1].referral().record().record().health().diagnosis_codes(0),
            "F32.1");
  EXPECT_EQ(inbox[2].referral().sender_agency_id(), "malmo-police");
  EXPECT_EQ(inbox[2].referral().record().level(), v1::LEVEL_CATEGORY);
}

TEST_F(ReferralTest, UnacknowledgedMessageIsRedeliveredAfterItsLease) {
  auto sent = Send(school_, SchoolReferral("lease-1"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  // One stream, a one-second lease, no acknowledgement: the same message
  // comes again when the lease ends.
  std::vector<v1::InboxMessage> twice = ReadInbox(social_, 2, 1);
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(twice[0].message_id(), twice[1].message_id());
  EXPECT_EQ(twice[0].delivery_attempt(), 1u);
  EXPECT_EQ(twice[1].delivery_attempt(), 2u);
  ASSERT_TRUE(Ack(social_, twice[1].message_id()).ok());
  // Acknowledged: it does not come back.
  EXPECT_TRUE(ReadInbox(social_, 1, 1, absl::Seconds(3)).empty());
}

// Reads the Deliver stream until `messages` inbox messages and `answers`
// acknowledgement answers have come, or the stream ends.
struct DeliverRead {
  std::vector<v1::InboxMessage> messages;
  std::vector<v1::AcknowledgedMessages> answers;
};
DeliverRead ReadDeliver(
    grpc::ClientReaderWriter<v1::DeliverRequest, v1::DeliverResponse>& stream,
    size_t messages, size_t answers) {
  DeliverRead read;
  v1::DeliverResponse r;
  while ((read.messages.size() < messages || read.answers.size() < answers) &&
         stream.Read(&r)) {
    if (r.has_message()) read.messages.push_back(r.message());
    if (r.has_acknowledged()) read.answers.push_back(r.acknowledged());
  }
  return read;
}

TEST_F(ReferralTest, DeliverStreamsAndTakesAcknowledgementsOnTheSameStream) {
  std::vector<std::string> referrals;
  for (int i = 0; i < 5; ++i) {
    auto sent = Send(school_, SchoolReferral("deliver-" + std::to_string(i)));
    ASSERT_TRUE(sent.ok()) << sent.status();
    referrals.push_back(sent->referral_id());
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = Stub(social_)->Deliver(&ctx);
  v1::DeliverRequest open;
  open.set_lease_seconds(60);
  ASSERT_TRUE(stream->Write(open));
  DeliverRead first = ReadDeliver(*stream, 5, 0);
  ASSERT_EQ(first.messages.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(first.messages[i].referral().referral_id(), referrals[i]);
  }
  // A referral sent while the stream is open arrives on it.
  auto late = Send(school_, SchoolReferral("deliver-late"));
  ASSERT_TRUE(late.ok()) << late.status();
  DeliverRead second = ReadDeliver(*stream, 1, 0);
  ASSERT_EQ(second.messages.size(), 1u);
  EXPECT_EQ(second.messages[0].referral().referral_id(), late->referral_id());

  // All six in one request, with one id the inbox never held.
  v1::DeliverRequest acks;
  for (const auto& m : first.messages) acks.add_ack_message_ids(m.message_id());
  acks.add_ack_message_ids(second.messages[0].message_id());
  acks.add_ack_message_ids("msg-never-sent");
  ASSERT_TRUE(stream->Write(acks));
  DeliverRead answered = ReadDeliver(*stream, 0, 1);
  ASSERT_EQ(answered.answers.size(), 1u);
  EXPECT_EQ(answered.answers[0].message_ids_size(), 6);
  ASSERT_EQ(answered.answers[0].refused_size(), 1);
  EXPECT_EQ(answered.answers[0].refused(0).message_id(), "msg-never-sent");
  EXPECT_EQ(answered.answers[0].refused(0).code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_NE(answered.answers[0].refused(0).reason().find("msg-never-sent"),
            std::string::npos);
  // Closing our side ends the stream with OK.
  ASSERT_TRUE(stream->WritesDone());
  v1::DeliverResponse extra;
  while (stream->Read(&extra)) {
  }
  grpc::Status done = stream->Finish();
  EXPECT_TRUE(done.ok()) << done.error_message();

  // Acknowledged as Ack does: delivered, logged, told to the sender, and
  // not delivered again.
  for (const std::string& id : referrals) {
    auto seen = Get(social_, id);
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(seen->status(), v1::REFERRAL_STATUS_DELIVERED) << id;
  }
  EXPECT_TRUE(ReadInbox(social_, 1, 1, absl::Seconds(3)).empty());
  std::vector<v1::InboxMessage> receipts = ReadInbox(school_, 6);
  ASSERT_EQ(receipts.size(), 6u);
  EXPECT_EQ(receipts[0].referral_update().status(),
            v1::REFERRAL_STATUS_DELIVERED);
}

TEST_F(ReferralTest, DeliverRefusesBadRequestsAndAcknowledgesNothingOfThem) {
  auto sent = Send(school_, SchoolReferral("deliver-bad"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  std::vector<v1::InboxMessage> inbox = ReadInbox(social_, 1, 1);
  ASSERT_EQ(inbox.size(), 1u);
  const std::string message = inbox[0].message_id();

  struct Case {
    std::string name;
    std::vector<v1::DeliverRequest> requests;
    std::string says;
  };
  std::vector<Case> cases;
  {
    v1::DeliverRequest too_long;
    too_long.set_lease_seconds(3601);
    cases.push_back({"a lease over the longest", {too_long}, "at most 3600"});
  }
  {
    v1::DeliverRequest open, again;
    again.set_lease_seconds(5);
    again.add_ack_message_ids(message);
    cases.push_back({"a lease set twice", {open, again}, "set once"});
  }
  {
    v1::DeliverRequest many;
    for (int i = 0; i < 1000; ++i) many.add_ack_message_ids("msg-x");
    many.add_ack_message_ids(message);
    cases.push_back({"1,001 ids", {many}, "at most 1000"});
  }
  {
    v1::DeliverRequest huge;
    huge.add_ack_message_ids(message);
    huge.add_ack_message_ids(std::string(5000, 'm'));
    cases.push_back({"an id over its size", {huge}, "ack_message_ids"});
  }
  for (const Case& c : cases) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    auto stream = Stub(social_)->Deliver(&ctx);
    for (const v1::DeliverRequest& r : c.requests) stream->Write(r);
    v1::DeliverResponse r;
    while (stream->Read(&r)) {
      EXPECT_FALSE(r.has_acknowledged()) << c.name;
    }
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_NE(s.error_message().find(c.says), std::string::npos)
        << c.name << ": " << s.error_message();
  }
  // None of them acknowledged the message: it is still there.
  auto seen = Get(social_, sent->referral_id());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->status(), v1::REFERRAL_STATUS_SENT);
  std::vector<v1::InboxMessage> again = ReadInbox(social_, 1, 60);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id(), message);
}

TEST_F(ReferralTest, InboxFollowAcknowledgesEachMessageOnItsStream) {
  std::vector<std::string> referrals;
  for (int i = 0; i < 2; ++i) {
    auto sent = Send(school_, SchoolReferral("follow-" + std::to_string(i)));
    ASSERT_TRUE(sent.ok()) << sent.status();
    referrals.push_back(sent->referral_id());
  }
  BackgroundLiaison follow(*broker_, deployment_.ca_cert(), social_,
                           {"inbox", "--follow"});
  auto count = [&](const std::string& what) {
    const std::string out = follow.Output();
    size_t n = 0;
    for (size_t at = out.find(what); at != std::string::npos;
         at = out.find(what, at + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(PollUntil([&] { return count("  acknowledged msg-") == 2; },
                        absl::Seconds(20), absl::Milliseconds(50)))
      << follow.Output();
  // One sent while it follows is shown and acknowledged too.
  auto late = Send(school_, SchoolReferral("follow-late"));
  ASSERT_TRUE(late.ok()) << late.status();
  referrals.push_back(late->referral_id());
  ASSERT_TRUE(PollUntil([&] { return count("  acknowledged msg-") == 3; },
                        absl::Seconds(20), absl::Milliseconds(50)))
      << follow.Output();
  CommandResult stopped = follow.Interrupt();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.err.find("stopped; 3 messages acknowledged"),
            std::string::npos)
      << stopped.err;
  for (const std::string& id : referrals) {
    EXPECT_NE(stopped.out.find(id), std::string::npos) << stopped.out;
    auto seen = Get(social_, id);
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(seen->status(), v1::REFERRAL_STATUS_DELIVERED) << id;
  }
  EXPECT_TRUE(ReadInbox(social_, 1, 1, absl::Seconds(2)).empty());
}

TEST_F(ReferralTest, RetryWithTheSameKeyStoresNothingTwice) {
  const v1::SendReferralRequest request = SchoolReferral("retry-1");
  auto first = Send(school_, request);
  auto second = Send(school_, request);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->referral_id(), second->referral_id());
  EXPECT_EQ(first->log_sequence(), second->log_sequence());

  v1::SendReferralRequest changed = request;
  changed.set_requested_action("something else");
  auto conflict = Send(school_, changed);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(conflict.status().message().find("retry-1"), std::string::npos);

  std::vector<v1::InboxMessage> inbox =
      ReadInbox(social_, 2, 60, absl::Seconds(3));
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].referral().referral_id(), first->referral_id());
}

TEST_F(ReferralTest, AgenciesCannotTouchEachOthersMessages) {
  auto sent = Send(school_, SchoolReferral("iso-1"));
  ASSERT_TRUE(sent.ok());
  std::vector<v1::InboxMessage> inbox = ReadInbox(social_, 1);
  ASSERT_EQ(inbox.size(), 1u);
  const std::string message = inbox[0].message_id();
  const std::string id = sent->referral_id();

  EXPECT_EQ(Ack(police_, message).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Ack(school_, message).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Update(police_, id, v1::REFERRAL_STATUS_ACCEPTED).status().code(),
            absl::StatusCode::kNotFound);
  auto by_sender = Update(school_, id, v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(by_sender.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(by_sender.status().message().find("only the recipient"),
            std::string::npos);
  // Still untouched: the recipient gets it again, unacknowledged.
  auto seen = Get(social_, id);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->status(), v1::REFERRAL_STATUS_SENT);
  // The police stream shows nothing of it.
  EXPECT_TRUE(ReadInbox(police_, 1, 60, absl::Seconds(2)).empty());
}

TEST_F(ReferralTest, InvalidLifecycleMovesAreRefused) {
  auto sent = Send(school_, SchoolReferral("life-1"));
  ASSERT_TRUE(sent.ok());
  const std::string id = sent->referral_id();
  auto early_close = Update(social_, id, v1::REFERRAL_STATUS_CLOSED, "done");
  EXPECT_EQ(early_close.status().code(), absl::StatusCode::kFailedPrecondition)
      << early_close.status();
  auto no_reason = Update(social_, id, v1::REFERRAL_STATUS_DECLINED);
  EXPECT_EQ(no_reason.status().code(), absl::StatusCode::kInvalidArgument);
  auto back_to_sent = Update(social_, id, v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(back_to_sent.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get(social_, id)->history_size(), 1);
}

TEST_F(ReferralTest, BadSendsAreRefusedClearlyAndStoreNothing) {
  struct Case {
    std::string name;
    const Credentials* from;
    std::function<void(v1::SendReferralRequest*)> spoil;
    absl::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {"oversized", &school_,
       [](v1::SendReferralRequest* r) {
         r->mutable_record()->mutable_education()->set_teacher_notes(
             std::string(100000, 'x'));
       },
       absl::StatusCode::kResourceExhausted, "larger than max"},
      {"malformed", &school_,
       [](v1::SendReferralRequest* r) {
         r->clear_purpose();
         r->mutable_subject()->set_birth_date("04/03/2011");
         r->clear_basis();
       },
       absl::StatusCode::kInvalidArgument, "purpose is missing"},
      {"unknown agency", &school_,
       [](v1::SendReferralRequest* r) {
         r->mutable_destination()->set_agency_id("nowhere");
       },
       absl::StatusCode::kNotFound, "no agency \"nowhere\""},
      {"no route", &school_,
       [](v1::SendReferralRequest* r) {
         r->mutable_destination()->mutable_sector_in_area()->set_area("lund");
       },
       absl::StatusCode::kNotFound, "for area \"lund\""},
      {"health without checklist", &health_,
       [](v1::SendReferralRequest* r) {
         r->mutable_record()->mutable_health()->add_diagnosis_codes("F32.1");
       },
       absl::StatusCode::kPermissionDenied, "pre-sharing checklist"},
      {"no agreement", &police_,
       [](v1::SendReferralRequest* r) {
         r->mutable_destination()->set_agency_id("rosengard-school");
       },
       absl::StatusCode::kPermissionDenied,
       "no agreement covers police to education"},
      {"other purpose", &school_,
       [](v1::SendReferralRequest* r) { r->set_purpose("marketing"); },
       absl::StatusCode::kPermissionDenied, "purpose \"marketing\""},
  };
  for (const Case& c : cases) {
    v1::SendReferralRequest r = SchoolReferral("bad-" + c.name);
    c.spoil(&r);
    auto result = Send(*c.from, r);
    EXPECT_EQ(result.status().code(), c.code)
        << c.name << ": " << result.status();
    EXPECT_NE(result.status().message().find(c.message), std::string::npos)
        << c.name << ": " << result.status().message();
  }
  // The malformed request names every problem at once.
  v1::SendReferralRequest r = SchoolReferral("bad-2");
  r.clear_purpose();
  r.mutable_subject()->set_birth_date("04/03/2011");
  auto malformed = Send(school_, r);
  EXPECT_NE(malformed.status().message().find("birth_date"), std::string::npos);

  // Nothing of the above reached an inbox: the first message social care
  // sees is the valid referral sent after them.
  auto good = Send(school_, SchoolReferral("good-1"));
  ASSERT_TRUE(good.ok()) << good.status();
  std::vector<v1::InboxMessage> inbox =
      ReadInbox(social_, 2, 60, absl::Seconds(3));
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].referral().referral_id(), good->referral_id());
}

TEST_F(ReferralTest, ReferralsOpenAndJoinCasesWithOneManager) {
  auto first = Send(school_, SchoolReferral("case-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  // An agency not attached to the case cannot add a referral to it.
  v1::SendReferralRequest join = SchoolReferral("case-2");
  join.set_case_id(first->case_id());
  join.mutable_destination()->set_agency_id("malmo-sc");
  join.mutable_record()->mutable_health()->add_diagnosis_codes("F43.2");
  AddChecklist(&join);
  auto outsider = Send(health_, join);
  EXPECT_EQ(outsider.status().code(), absl::StatusCode::kNotFound)
      << outsider.status();
  // The school, attached, adds a second referral to the same case.
  v1::SendReferralRequest again = SchoolReferral("case-3");
  again.set_case_id(first->case_id());
  auto second = Send(school_, again);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->case_id(), first->case_id());

  auto show = [&](const Credentials& c) {
    grpc::ClientContext ctx;
    v1::GetCaseRequest req;
    req.set_case_id(first->case_id());
    v1::Case out;
    grpc::Status s = Stub(c)->GetCase(&ctx, req, &out);
    return std::make_pair(s, out);
  };
  auto [status, kase] = show(school_);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(kase.manager_agency_id(), "malmo-sc");
  ASSERT_EQ(kase.agencies_size(), 2);
  EXPECT_EQ(kase.agencies(0).agency_id(), "rosengard-school");
  EXPECT_EQ(kase.agencies(1).agency_id(), "malmo-sc");
  EXPECT_EQ(show(police_).first.error_code(), grpc::StatusCode::NOT_FOUND);

  auto hand_over = [&](const Credentials& c, const std::string& to) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "sw-7");
    v1::HandOverCaseRequest req;
    req.set_case_id(first->case_id());
    req.set_to_agency_id(to);
    req.set_note("school holds the daily contact");
    v1::Case out;
    grpc::Status s = Stub(c)->HandOverCase(&ctx, req, &out);
    return std::make_pair(s, out);
  };
  EXPECT_EQ(hand_over(school_, "rosengard-school").first.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(hand_over(social_, "malmo-police").first.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  auto [ok, handed] = hand_over(social_, "rosengard-school");
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(handed.manager_agency_id(), "rosengard-school");
  ASSERT_EQ(handed.handovers_size(), 1);
  EXPECT_EQ(handed.handovers(0).from_agency_id(), "malmo-sc");
  EXPECT_EQ(handed.handovers(0).note(), "school holds the daily contact");
  EXPECT_EQ(handed.handovers(0).by().id(), "sw-7");
}

TEST_F(ReferralTest, CommandLineSendsListsAndMovesAReferral) {
  const std::string file = deployment_.root() + "/referral.textproto";
  std::ofstream(file) << R"pb(
        destination { agency_id: "malmo-sc" }
        subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
        purpose: "child_welfare"
        concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
        urgency: URGENCY_ROUTINE
        record { education { school: "Rosengard School" } }
      )pb"
                      << "basis { consent_id: \"" << consent_ << "\" }\n";
  auto liaison = [&](const Credentials& c, std::vector<std::string> args) {
    return RunLiaison(*broker_, deployment_.ca_cert(), c, args);
  };
  CommandResult sent = liaison(school_, {"send-referral", file});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  const size_t at = sent.out.find("referral:");
  ASSERT_NE(at, std::string::npos) << sent.out;
  const std::string id = std::string(absl::StripAsciiWhitespace(
      sent.out.substr(at + 9, sent.out.find('\n', at) - at - 9)));
  // The same file again is a retry of the same referral.
  CommandResult again = liaison(school_, {"send-referral", file});
  EXPECT_NE(again.out.find(id), std::string::npos) << again.out;

  CommandResult inbox = liaison(social_, {"inbox"});
  ASSERT_EQ(inbox.exit_code, 0) << inbox.err;
  EXPECT_NE(inbox.out.find(id), std::string::npos) << inbox.out;
  const size_t m = inbox.out.find("message: ");
  ASSERT_NE(m, std::string::npos);
  const std::string message =
      inbox.out.substr(m + 9, inbox.out.find('\n', m) - m - 9);
  EXPECT_EQ(liaison(social_, {"ack", message}).exit_code, 0);
  CommandResult accept = liaison(social_, {"referral", "accept", id});
  EXPECT_EQ(accept.exit_code, 0) << accept.err;
  CommandResult by_sender =
      liaison(school_, {"referral", "close", id, "--outcome=done"});
  EXPECT_EQ(by_sender.exit_code, 1);
  EXPECT_NE(by_sender.err.find("PERMISSION_DENIED"), std::string::npos);
  CommandResult show = liaison(school_, {"referral", "show", id});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("accepted"), std::string::npos) << show.out;
  // Feedback on a duty the reverse agreement does not name: the referral
  // closes, the school is not told.
  CommandResult unnamed =
      liaison(social_, {"referral", "close", id, "--outcome=done",
                        "--feedback_duty=no-such-duty"});
  EXPECT_EQ(unnamed.exit_code, 0) << unnamed.err;
  EXPECT_NE(unnamed.out.find("closed"), std::string::npos) << unnamed.out;
  show = liaison(school_, {"referral", "show", id});
  EXPECT_EQ(show.out.find("closed"), std::string::npos) << show.out;
  EXPECT_EQ(
      liaison(school_, {"referral", "show", id, "--feedback_duty=x"}).exit_code,
      2);

  std::ofstream(deployment_.root() + "/broken.textproto") << "purpose: 7\n";
  CommandResult broken = liaison(
      school_, {"send-referral", deployment_.root() + "/broken.textproto"});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("broken.textproto:1:"), std::string::npos)
      << broken.err;
}

TEST_F(ReferralTest, KillDuringSendsLosesNothingThatWasAnswered) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  constexpr int kKillAfter = 400;
  absl::Mutex mu;
  std::vector<std::string> answered;  // referral ids answered OK
  std::atomic<int> ok_count{0};
  std::atomic<bool> killed{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      const Credentials& from = t % 2 ? health_ : school_;
      auto stub = Stub(from);
      for (int i = 0; i < kPerThread; ++i) {
        v1::SendReferralRequest r = SchoolReferral(
            "crash-" + std::to_string(t) + "-" + std::to_string(i));
        r.mutable_destination()->set_agency_id("malmo-sc");
        if (t % 2) AddChecklist(&r);
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        v1::SendReferralResponse resp;
        if (!stub->SendReferral(&ctx, r, &resp).ok()) {
          if (killed) return;  // the broker is gone; stop this sender
          continue;
        }
        {
          absl::MutexLock lock(&mu);
          answered.push_back(resp.referral_id());
        }
        if (++ok_count == kKillAfter) {
          killed = true;
          broker_->Signal(SIGKILL);
        }
      }
    });
  }
  for (std::thread& s : senders) s.join();
  ASSERT_TRUE(killed) << "the broker was not killed mid-run";
  EXPECT_EQ(broker_->WaitForExit(), 128 + SIGKILL);

  // Restart on the same data directory; a marker sent now is the last
  // message in the inbox, so reading up to it reads everything.
  broker_ = std::make_unique<BrokerProcess>(
      deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
  ASSERT_GT(broker_->port(), 0) << broker_->Output();
  auto marker = Send(school_, SchoolReferral("marker"));
  ASSERT_TRUE(marker.ok()) << marker.status();

  absl::flat_hash_map<std::string, int> delivered;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::ReceiveRequest req;
    auto stub = Stub(social_);
    auto reader = stub->Receive(&ctx, req);
    v1::InboxMessage m;
    while (reader->Read(&m)) {
      // Whatever was committed is whole: a parsed referral with its record
      // view and first event.
      ASSERT_TRUE(m.has_referral());
      ASSERT_EQ(m.referral().history_size(), 1);
      ASSERT_EQ(m.referral().record().level(),
                m.referral().sender_agency_id() == "st-olavs"
                    ? v1::LEVEL_FULL
                    : v1::LEVEL_SUMMARY);
      if (m.referral().referral_id() == marker->referral_id()) break;
      ++delivered[m.referral().referral_id()];
    }
    ctx.TryCancel();
    while (reader->Read(&m)) {
    }
    reader->Finish();
  }
  absl::MutexLock lock(&mu);
  ASSERT_GE(answered.size(), static_cast<size_t>(kKillAfter));
  for (const std::string& id : answered) {
    EXPECT_EQ(delivered[id], 1) << id << " was answered OK";
  }
  // Sends cut off by the kill may or may not have committed, never twice.
  for (const auto& [id, count] : delivered) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace liaison::testing
