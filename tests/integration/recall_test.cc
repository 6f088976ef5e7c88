// A sender takes back a misdirected referral (DESIGN.md rule 10), over the
// real broker: before the recipient's system acknowledges it, it leaves the
// inbox and is never delivered; after, the recipient gets a recall notice.
// Either way the broker's copy of the content is purged at once, the
// recipient can no longer act on it, and the take-back is one log entry.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/exchange_fixture.h"

namespace liaison::testing {
namespace {

class RecallTest : public ExchangeTest {
 protected:
  grpc::Status Recall(const Credentials& c, const std::string& referral_id,
                      v1::RecallReason reason, v1::Referral* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", "teacher-3");
    v1::RecallReferralRequest req;
    req.set_referral_id(referral_id);
    req.set_reason(reason);
    v1::Referral ignored;
    return Stub(c)->RecallReferral(&ctx, req, out == nullptr ? &ignored : out);
  }

  grpc::Status Move(const Credentials& c, const std::string& referral_id,
                    v1::ReferralStatus status) {
    grpc::ClientContext ctx;
    v1::UpdateReferralRequest req;
    req.set_referral_id(referral_id);
    req.set_status(status);
    v1::Referral ignored;
    return Stub(c)->UpdateReferral(&ctx, req, &ignored);
  }

  grpc::Status Ack(const Credentials& c, const std::string& message_id) {
    grpc::ClientContext ctx;
    v1::AckRequest req;
    req.set_message_id(message_id);
    v1::AckResponse ignored;
    return Stub(c)->Ack(&ctx, req, &ignored);
  }

  // The school's referral of a new person to social care; its id.
  std::string Refer(int n, const std::string& key) {
    const std::string person = Person(n);
    const std::string consent = MustRecord(school_, SubjectConsent(person));
    auto sent =
        Send(school_, SchoolReferral(key, person, ConsentBasis(consent)));
    EXPECT_TRUE(sent.ok()) << sent.status();
    return sent.ok() ? sent->referral_id() : "";
  }
};

TEST_F(RecallTest, BeforeItsAckAReferralIsWithdrawnAndNeverDelivered) {
  const std::string id = Refer(901, "recall-901");
  ASSERT_FALSE(id.empty());
  const uint64_t size_before = TreeSize();

  // Refusals change nothing and log nothing.
  grpc::Status s = Recall(social_, id, v1::RECALL_REASON_WRONG_RECIPIENT);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "only the sender"))
      << s.error_message();
  s = Recall(police_, id, v1::RECALL_REASON_WRONG_RECIPIENT);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = Recall(school_, id, v1::RECALL_REASON_UNSPECIFIED);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "reason is missing"))
      << s.error_message();
  EXPECT_EQ(TreeSize(), size_before);

  v1::Referral after;
  s = Recall(school_, id, v1::RECALL_REASON_WRONG_RECIPIENT, &after);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(after.status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_FALSE(after.has_record());
  EXPECT_TRUE(after.requested_action().empty());

  // The recipient's system never gets it, nor a notice about it.
  EXPECT_TRUE(ReadInbox(Channel(social_), 1, absl::Seconds(2)).empty());
  EXPECT_EQ(Move(social_, id, v1::REFERRAL_STATUS_ACCEPTED).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  std::vector<v1::LogEntry> taken = Log({v1::ENTRY_KIND_REFERRAL_WITHDRAWN});
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].message_id(), id);
  EXPECT_EQ(taken[0].counterpart(), "social");
  EXPECT_EQ(taken[0].professional().id(), "teacher-3");
  EXPECT_TRUE(absl::StrContains(taken[0].reason(), "wrong recipient"))
      << taken[0].reason();
  EXPECT_EQ(taken[0].purged_size(), 2) << taken[0].ShortDebugString();

  // Again: unchanged, nothing more logged.
  const uint64_t size_after = TreeSize();
  ASSERT_TRUE(Recall(school_, id, v1::RECALL_REASON_WRONG_RECIPIENT).ok());
  EXPECT_EQ(TreeSize(), size_after);
}

TEST_F(RecallTest, ShownUnderALeaseAWithdrawnReferralBringsANotice) {
  const std::string id = Refer(902, "recall-902");
  ASSERT_FALSE(id.empty());
  // The recipient's system reads it but does not acknowledge it.
  std::vector<v1::InboxMessage> read =
      ReadInbox(Channel(social_), 1, absl::Seconds(10), Referrals());
  ASSERT_EQ(read.size(), 1u);
  ASSERT_TRUE(Recall(school_, id, v1::RECALL_REASON_WRONG_PERSON).ok());
  std::vector<v1::InboxMessage> notices =
      ReadInbox(Channel(social_), 1, absl::Seconds(10),
                NoticeOf(v1::Notice::KIND_REFERRAL_RECALL));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].notice().referral_id(), id);
  EXPECT_EQ(MessageIds(notices[0].notice()),
            std::vector<std::string>{read[0].message_id()});
  EXPECT_TRUE(absl::StrContains(notices[0].notice().text(), "withdrawn"))
      << notices[0].notice().text();
  // Its late acknowledgement is harmless and moves nothing.
  EXPECT_TRUE(Ack(social_, read[0].message_id()).ok());
  EXPECT_TRUE(Log({v1::ENTRY_KIND_DELIVERY}).empty());
}

TEST_F(RecallTest, AfterItsAckAReferralIsRecalledFromTheCommandLine) {
  const std::string id = Refer(903, "recall-903");
  ASSERT_FALSE(id.empty());
  std::vector<v1::InboxMessage> read =
      ReadInbox(Channel(social_), 1, absl::Seconds(10), Referrals());
  ASSERT_EQ(read.size(), 1u);
  ASSERT_TRUE(Ack(social_, read[0].message_id()).ok());

  CommandResult usage = RunLiaison(*broker_, deployment_.ca_cert(), school_,
                                   {"referral", "recall", id});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  EXPECT_TRUE(absl::StrContains(usage.err, "wrong_recipient")) << usage.err;

  CommandResult cli =
      RunLiaison(*broker_, deployment_.ca_cert(), school_,
                 {"referral", "recall", id, "--reason=sent_in_error"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_TRUE(absl::StrContains(cli.out, "recalled")) << cli.out;

  std::vector<v1::InboxMessage> notices =
      ReadInbox(Channel(social_), 1, absl::Seconds(10),
                NoticeOf(v1::Notice::KIND_REFERRAL_RECALL));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(MessageIds(notices[0].notice()),
            std::vector<std::string>{read[0].message_id()});
  EXPECT_TRUE(absl::StrContains(notices[0].notice().text(), "recalled"))
      << notices[0].notice().text();

  // The recipient sees only what the broker kept, and can no longer act.
  grpc::ClientContext ctx;
  v1::GetReferralRequest get;
  get.set_referral_id(id);
  v1::Referral kept;
  ASSERT_TRUE(Stub(social_)->GetReferral(&ctx, get, &kept).ok());
  EXPECT_EQ(kept.status(), v1::REFERRAL_STATUS_RECALLED);
  EXPECT_FALSE(kept.has_record());
  EXPECT_EQ(Move(social_, id, v1::REFERRAL_STATUS_ACKNOWLEDGED).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  std::vector<v1::LogEntry> taken = Log({v1::ENTRY_KIND_REFERRAL_RECALLED});
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].message_id(), id);
  EXPECT_TRUE(absl::StrContains(taken[0].reason(), notices[0].message_id()))
      << taken[0].reason();

  // An auditor sees it in `audit query`.
  CommandResult audit =
      RunLiaison(*broker_, deployment_.ca_cert(), dpo_,
                 {"audit", "query", "--kind=referral_recalled"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_TRUE(absl::StrContains(audit.out, "referral_recalled")) << audit.out;
  EXPECT_TRUE(absl::StrContains(audit.out, id)) << audit.out;
}

}  // namespace
}  // namespace liaison::testing
