#include "broker/sweeper.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/synchronization/notification.h"
#include "broker/store/sqlite/sqlite_store.h"
#include "broker/store/sqlite/sqlite_testing.h"

namespace liaison {
namespace {

class FakeClock final : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

template <typename T>
absl::StatusOr<T> Wait(std::function<void(StoreDone<T>)> call) {
  absl::Notification done;
  absl::StatusOr<T> result;
  call([&](absl::StatusOr<T> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

class SweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "/sweeperXXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    auto store = SqliteStore::Open(TestStoreOptions(dir + "/liaison.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Commits a referral from the school to social care, the way the
  // Exchange service does.
  std::string CommitReferral(v1::Urgency urgency, absl::Time acknowledge_by) {
    const std::string n = std::to_string(++count_);
    NewReferral r;
    r.sender_agency_id = "school";
    r.idempotency_key = "k" + n;
    r.request_digest = "d" + n;
    r.opens_case = true;
    r.referral.set_referral_id("ref-" + n);
    r.referral.set_case_id("case-" + n);
    r.referral.set_sender_agency_id("school");
    r.referral.set_recipient_agency_id("social");
    r.referral.set_status(v1::REFERRAL_STATUS_SENT);
    r.referral.set_urgency(urgency);
    v1::ReferralEvent* sent = r.referral.add_history();
    sent->set_status(v1::REFERRAL_STATUS_SENT);
    sent->mutable_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
    r.delivery.set_message_id("msg-" + n);
    *r.delivery.mutable_referral() = r.referral;
    r.delivery.set_referral_id("ref-" + n);
    r.expires_at = clock_.Now() + absl::Hours(120);
    r.acknowledge_by = acknowledge_by;
    auto committed = Wait<v1::SendReferralResponse>(
        [&](StoreDone<v1::SendReferralResponse> done) {
          store_->CommitReferral(r, std::move(done));
        });
    EXPECT_TRUE(committed.ok()) << committed.status();
    return "msg-" + n;
  }

  std::vector<v1::InboxMessage> Lease(const std::string& agency) {
    auto lease = Wait<InboxLease>([&](StoreDone<InboxLease> done) {
      store_->LeaseInbox(agency, clock_.Now(), absl::Seconds(30), 100,
                         std::move(done));
    });
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease->messages;
  }

  FakeClock clock_;
  InboxWaiters waiters_;
  std::unique_ptr<SqliteStore> store_;
  int count_ = 0;
};

TEST_F(SweeperTest, ExpiredMessageIsWithdrawnAndItsSenderTold) {
  const std::string message =
      CommitReferral(v1::URGENCY_ROUTINE, absl::InfiniteFuture());
  Sweeper sweeper(store_.get(), &waiters_, &clock_, absl::Hours(120));

  // Just before its time to live ends nothing happens.
  clock_.Advance(absl::Hours(120) - absl::Seconds(1));
  ASSERT_TRUE(sweeper.RunOnce().ok());
  EXPECT_TRUE(Lease("school").empty());

  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(sweeper.RunOnce().ok());
  // The recipient can no longer receive it...
  EXPECT_TRUE(Lease("social").empty());
  // ...and the sender holds one non-delivery notice naming it.
  std::vector<v1::InboxMessage> notices = Lease("school");
  ASSERT_EQ(notices.size(), 1u);
  ASSERT_TRUE(notices[0].has_notice());
  EXPECT_EQ(notices[0].notice().kind(), v1::Notice::KIND_NON_DELIVERY);
  ASSERT_EQ(notices[0].notice().message_ids_size(), 1);
  EXPECT_EQ(notices[0].notice().message_ids(0), message);
  EXPECT_EQ(notices[0].notice().referral_id(), "ref-1");

  // A second pass tells nobody twice.
  ASSERT_TRUE(sweeper.RunOnce().ok());
  clock_.Advance(absl::Seconds(31));  // past the first lease
  EXPECT_EQ(Lease("school").size(), 1u);
}

TEST_F(SweeperTest, OverdueUrgentReferralIsEscalatedOnceToSenderAndManager) {
  CommitReferral(v1::URGENCY_IMMEDIATE, clock_.Now() + absl::Hours(1));
  CommitReferral(v1::URGENCY_ROUTINE, absl::InfiniteFuture());
  Sweeper sweeper(store_.get(), &waiters_, &clock_, absl::Hours(120));

  clock_.Advance(absl::Minutes(59));
  ASSERT_TRUE(sweeper.RunOnce().ok());
  EXPECT_TRUE(Lease("school").empty());

  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(sweeper.RunOnce().ok());
  ASSERT_TRUE(sweeper.RunOnce().ok());
  std::vector<v1::InboxMessage> to_sender = Lease("school");
  ASSERT_EQ(to_sender.size(), 1u);
  EXPECT_EQ(to_sender[0].notice().kind(), v1::Notice::KIND_ESCALATION);
  EXPECT_EQ(to_sender[0].notice().referral_id(), "ref-1");
  // The recipient is the case manager of a case its referral opened: it
  // holds both referrals and the escalation.
  std::vector<v1::InboxMessage> to_manager = Lease("social");
  ASSERT_EQ(to_manager.size(), 3u);
  EXPECT_EQ(to_manager[2].notice().kind(), v1::Notice::KIND_ESCALATION);
}

TEST_F(SweeperTest, AcknowledgedReferralIsNotEscalated) {
  CommitReferral(v1::URGENCY_WITHIN_24H, clock_.Now() + absl::Hours(24));
  ReferralChange change;
  change.agency_id = "social";
  change.referral_id = "ref-1";
  change.event.set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
  change.event.set_feedback_level(v1::LEVEL_SIGNAL);
  change.sender_event = change.event;
  change.update.emplace().set_message_id("msg-update");
  change.update_expires_at = clock_.Now() + absl::Hours(120);
  auto changed = Wait<v1::Referral>([&](StoreDone<v1::Referral> done) {
    store_->ChangeReferral(change, std::move(done));
  });
  ASSERT_TRUE(changed.ok()) << changed.status();

  clock_.Advance(absl::Hours(25));
  Sweeper sweeper(store_.get(), &waiters_, &clock_, absl::Hours(120));
  ASSERT_TRUE(sweeper.RunOnce().ok());
  std::vector<v1::InboxMessage> to_sender = Lease("school");
  ASSERT_EQ(to_sender.size(), 1u);  // only the status update
  EXPECT_TRUE(to_sender[0].has_referral_update());
}

}  // namespace
}  // namespace liaison
