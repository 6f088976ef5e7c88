// Conformance of the message path (store.h): referrals, manual
// disclosures, inboxes and their leases, acknowledgements, status changes
// and the sweeps. Instantiated by each backend's conformance test.
#ifndef LIAISON_BROKER_STORE_STORE_CONFORMANCE_REFERRALS_H_
#define LIAISON_BROKER_STORE_STORE_CONFORMANCE_REFERRALS_H_

#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "broker/store/store_conformance.h"

namespace liaison::conformance {

template <typename Factory>
class StoreReferralConformance : public StoreConformance<Factory> {
 protected:
  absl::StatusOr<uint64_t> RecordManual(ManualDisclosure d) {
    return Await<uint64_t>([&](auto done) {
      this->store().RecordManualDisclosure(std::move(d), done);
    });
  }
  absl::StatusOr<std::string> Ack(const std::string& agency,
                                  const std::string& message_id) {
    v1::LogEntry delivery =
        Entry(v1::ENTRY_KIND_DELIVERY, agency, "", this->Now());
    v1::InboxMessage update;
    update.set_message_id("receipt-" + message_id + "-" +
                          std::to_string(++receipts_));
    *update.mutable_enqueued_at() = Stamp(this->Now());
    return Await<std::string>([&](auto done) {
      this->store().AckMessage(agency, message_id, this->Now(), delivery,
                               update, this->Now() + absl::Hours(120), done);
    });
  }
  // The recipient's change of referral `n` to `status`, told to the
  // sender.
  ReferralChange Change(const std::string& n, const std::string& by,
                        v1::ReferralStatus status, const std::string& detail) {
    ReferralChange change;
    change.agency_id = by;
    change.referral_id = "ref-" + n;
    change.event.set_status(status);
    *change.event.mutable_at() = Stamp(this->Now());
    change.event.set_by_agency_id(by);
    change.event.set_detail(detail);
    change.event.set_feedback_level(v1::LEVEL_SIGNAL);
    change.feedback = Entry(v1::ENTRY_KIND_DISCLOSURE, by, "", this->Now());
    change.sender_event = change.event;
    change.sender_event.clear_detail();
    change.update.emplace().set_message_id("update-" + n + "-" +
                                           std::to_string(++receipts_));
    *change.update->mutable_enqueued_at() = Stamp(this->Now());
    change.update_expires_at = this->Now() + absl::Hours(120);
    return change;
  }
  absl::StatusOr<v1::Referral> ApplyChange(ReferralChange change) {
    return Await<v1::Referral>([&](auto done) {
      this->store().ChangeReferral(std::move(change), done);
    });
  }
  using Sweep = void (Store::*)(absl::Time, absl::Duration, int,
                                StoreDone<std::vector<std::string>>);
  absl::StatusOr<std::vector<std::string>> RunSweep(Sweep sweep, absl::Time at,
                                                    int max = 100) {
    return Await<std::vector<std::string>>([&](auto done) {
      (this->store().*sweep)(at, absl::Hours(120), max, done);
    });
  }

  absl::StatusOr<v1::Case> ChangeCase(const std::string& by,
                                      v1::CaseOutcome outcome,
                                      const std::string& detach = "") {
    CaseChange change;
    change.agency_id = by;
    change.case_id = "case-1";
    change.outcome = outcome;
    change.detach_agency_id = detach;
    if (!detach.empty()) {
      change.detach_reason = v1::DETACH_REASON_NO_LONGER_INVOLVED;
    }
    change.at = this->Now();
    change.entry = Entry(detach.empty() ? v1::ENTRY_KIND_CASE_CLOSED
                                        : v1::ENTRY_KIND_CASE_DETACHED,
                         by, detach, this->Now());
    // The store takes the subject from the case.
    change.entry.clear_subject_pseudonym();
    return Await<v1::Case>(
        [&](auto done) { this->store().ChangeCase(std::move(change), done); });
  }

  int receipts_ = 0;
};
TYPED_TEST_SUITE_P(StoreReferralConformance);

TYPED_TEST_P(StoreReferralConformance,
             ReferralOpeningACaseIsStoredLoggedAndDelivered) {
  ASSERT_TRUE(this->Append(AdminEntry("reload_policy", this->Now())).ok());
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  absl::StatusOr<v1::SendReferralResponse> sent = this->Refer(r);
  ASSERT_TRUE(sent.ok()) << sent.status();
  // The response as given, with the disclosure's sequence filled in.
  v1::SendReferralResponse expected = r.response;
  expected.set_log_sequence(1);
  EXPECT_EQ(sent->SerializeAsString(), expected.SerializeAsString());
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].entry.kind(), v1::ENTRY_KIND_DISCLOSURE);
  EXPECT_EQ(log[1].entry.message_id(), "ref-1");
  EXPECT_EQ(log[1].entry.sequence(), 1u);
  absl::StatusOr<v1::Referral> stored = this->GetReferral(kSchool, "ref-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->SerializeAsString(), r.referral.SerializeAsString());
  std::vector<v1::InboxMessage> inbox = this->Inbox(kSocial);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].message_id(), "msg-1");
  EXPECT_EQ(inbox[0].referral().referral_id(), "ref-1");
  EXPECT_TRUE(this->Inbox(kSchool).empty());
  EXPECT_TRUE(this->GetCase(kSchool, "case-1").ok());
}

TYPED_TEST_P(StoreReferralConformance,
             AReferralTakenBackBeforeItsAckLeavesTheInboxAndItsContent) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  // Only the sender may, and only a party learns the referral exists.
  absl::StatusOr<TakenBack> by_recipient = this->TakeBack(kSocial, "ref-1");
  EXPECT_EQ(by_recipient.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(this->TakeBack("stranger", "ref-1").status().code(),
            absl::StatusCode::kNotFound);
  const uint64_t before = this->LogSize();
  absl::StatusOr<TakenBack> taken = this->TakeBack(kSchool, "ref-1");
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->referral.status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_EQ(taken->referral.concerns_size(), 0);
  EXPECT_FALSE(taken->referral.has_record());
  // Never shown to the recipient's system: no notice, and nothing to lease.
  EXPECT_TRUE(taken->notified_agency_id.empty());
  EXPECT_TRUE(this->Inbox(kSocial).empty());
  ASSERT_EQ(this->LogSize(), before + 1);
  const v1::LogEntry entry = this->Entries().back().entry;
  EXPECT_EQ(entry.kind(), v1::ENTRY_KIND_REFERRAL_WITHDRAWN);
  EXPECT_EQ(entry.counterpart(), kSocial);
  EXPECT_EQ(entry.message_id(), "ref-1");
  EXPECT_FALSE(entry.subject_pseudonym().empty());
  EXPECT_EQ(entry.purged_size(), 2) << entry.ShortDebugString();
  EXPECT_THAT(entry.reason(), testing::HasSubstr("wrong recipient"));
  // The recipient sees what is left, and can no longer move it; a late
  // acknowledgement of the withdrawn message changes nothing.
  absl::StatusOr<v1::Referral> left = this->GetReferral(kSocial, "ref-1");
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(left->status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_FALSE(left->has_record());
  ASSERT_TRUE(Await<std::string>([&](auto done) {
                this->store().AckMessage(
                    kSocial, "msg-1", this->Now(),
                    Entry(v1::ENTRY_KIND_DELIVERY, kSocial, "", this->Now()),
                    v1::InboxMessage(), this->Now() + absl::Hours(120), done);
              }).ok());
  EXPECT_EQ(this->LogSize(), before + 1);
  // Taken back twice: unchanged, nothing more logged.
  absl::StatusOr<TakenBack> again = this->TakeBack(kSchool, "ref-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->referral.status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_EQ(this->LogSize(), before + 1);
}

TYPED_TEST_P(StoreReferralConformance,
             AReferralTakenBackAfterItsAckIsRecalledWithANotice) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  ASSERT_EQ(this->Inbox(kSocial).size(), 1u);
  ASSERT_TRUE(Await<std::string>([&](auto done) {
                this->store().AckMessage(
                    kSocial, "msg-1", this->Now(),
                    Entry(v1::ENTRY_KIND_DELIVERY, kSocial, "", this->Now()),
                    v1::InboxMessage(), this->Now() + absl::Hours(120), done);
              }).ok());
  const uint64_t before = this->LogSize();
  absl::StatusOr<TakenBack> taken = this->TakeBack(kSchool, "ref-1");
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->referral.status(), v1::REFERRAL_STATUS_RECALLED);
  EXPECT_FALSE(taken->referral.has_record());
  EXPECT_EQ(taken->notified_agency_id, kSocial);
  ASSERT_EQ(this->LogSize(), before + 1);
  const v1::LogEntry entry = this->Entries().back().entry;
  EXPECT_EQ(entry.kind(), v1::ENTRY_KIND_REFERRAL_RECALLED);
  EXPECT_THAT(entry.reason(), testing::HasSubstr("recall notice"));
  std::vector<v1::InboxMessage> inbox = this->Inbox(kSocial);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].notice().kind(), v1::Notice::KIND_REFERRAL_RECALL);
  EXPECT_EQ(inbox[0].notice().referral_id(), "ref-1");
  EXPECT_THAT(inbox[0].notice().message_ids(), testing::ElementsAre("msg-1"));
  // The history keeps who took it back and why.
  const v1::ReferralEvent& last =
      taken->referral.history(taken->referral.history_size() - 1);
  EXPECT_EQ(last.by_agency_id(), kSchool);
  EXPECT_EQ(last.recall_reason(), v1::RECALL_REASON_WRONG_RECIPIENT);
}

TYPED_TEST_P(StoreReferralConformance, ReferralQueuesItsNotices) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  QueuedNotice& alert = r.notices.emplace_back();
  alert.agency_id = kSchool;
  alert.message.set_message_id("alert-1");
  alert.message.mutable_notice()->set_kind(v1::Notice::KIND_OVERRIDE_ALERT);
  ASSERT_TRUE(this->Refer(r).ok());
  std::vector<v1::InboxMessage> inbox = this->Inbox(kSchool);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].message_id(), "alert-1");
  EXPECT_EQ(inbox[0].notice().kind(), v1::Notice::KIND_OVERRIDE_ALERT);
}

TYPED_TEST_P(StoreReferralConformance,
             ReferralJoiningACaseAttachesItsRecipient) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  // The recipient of the first referral refers on within the case.
  absl::StatusOr<v1::SendReferralResponse> joined = this->Refer(
      JoiningReferral("2", kSocial, kPolice, "case-1", this->Now()));
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->case_id(), "case-1");
  EXPECT_EQ(joined->log_sequence(), 1u);
  absl::StatusOr<v1::Case> c = this->GetCase(kPolice, "case-1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->agencies_size(), 3);
  EXPECT_EQ(this->Inbox(kPolice).size(), 1u);
}

TYPED_TEST_P(StoreReferralConformance,
             ReferralJoiningAMissingCaseIsNotFoundAndWritesNothing) {
  absl::StatusOr<v1::SendReferralResponse> sent = this->Refer(
      JoiningReferral("1", kSchool, kSocial, "no-such-case", this->Now()));
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kNotFound) << sent.status();
  EXPECT_EQ(this->LogSize(), 0u);
  EXPECT_TRUE(this->Inbox(kSocial).empty());
  EXPECT_EQ(this->GetReferral(kSchool, "ref-1").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreReferralConformance,
             ReferralJoiningACaseItsSenderIsNotOnIsNotFound) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  absl::StatusOr<v1::SendReferralResponse> sent = this->Refer(
      JoiningReferral("2", kPolice, kClinic, "case-1", this->Now()));
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kNotFound) << sent.status();
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_TRUE(this->Inbox(kClinic).empty());
  EXPECT_EQ(this->GetCase(kClinic, "case-1").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreReferralConformance,
             ReferralRetryReturnsTheFirstResponseAndWritesNothing) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  absl::StatusOr<v1::SendReferralResponse> first = this->Refer(r);
  ASSERT_TRUE(first.ok()) << first.status();
  // A retry of the same request carries ids minted afresh.
  NewReferral retry = r;
  retry.referral.set_referral_id("ref-retry");
  retry.delivery.set_message_id("msg-retry");
  retry.response.set_referral_id("ref-retry");
  absl::StatusOr<v1::SendReferralResponse> second = this->Refer(retry);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_EQ(this->Inbox(kSocial).size(), 1u);
  EXPECT_EQ(this->GetReferral(kSchool, "ref-retry").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreReferralConformance,
             ReferralKeyReusedForAnotherRequestIsAlreadyExists) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  NewReferral other = Referral("2", kSchool, kPolice, this->Now());
  other.idempotency_key = "key-1";
  absl::StatusOr<v1::SendReferralResponse> sent = this->Refer(other);
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kAlreadyExists)
      << sent.status();
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_TRUE(this->Inbox(kPolice).empty());
  // Keys are the sender's own: another sender may use the same one.
  NewReferral elsewhere = Referral("3", kClinic, kPolice, this->Now());
  elsewhere.idempotency_key = "key-1";
  EXPECT_TRUE(this->Refer(elsewhere).ok());
  EXPECT_EQ(this->LogSize(), 2u);
}

TYPED_TEST_P(StoreReferralConformance,
             ManualDisclosureIsLoggedOnceUnderItsKey) {
  ASSERT_TRUE(this->Append(AdminEntry("reload_policy", this->Now())).ok());
  ManualDisclosure d;
  d.agency_id = kClinic;
  d.idempotency_key = "manual-1";
  d.request_digest = "digest-1";
  d.entry =
      Entry(v1::ENTRY_KIND_MANUAL_DISCLOSURE, kClinic, kPolice, this->Now());
  absl::StatusOr<uint64_t> seq = this->RecordManual(d);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
  absl::StatusOr<uint64_t> retry = this->RecordManual(d);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, 1u);
  ManualDisclosure other = d;
  other.request_digest = "digest-2";
  EXPECT_EQ(this->RecordManual(other).status().code(),
            absl::StatusCode::kAlreadyExists);
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].entry.kind(), v1::ENTRY_KIND_MANUAL_DISCLOSURE);
}

TYPED_TEST_P(StoreReferralConformance,
             ManualDisclosureNeedsACaseItsAgencyIsOn) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  ManualDisclosure d;
  d.agency_id = kPolice;
  d.idempotency_key = "manual-1";
  d.request_digest = "digest-1";
  d.case_id = "case-1";
  d.entry =
      Entry(v1::ENTRY_KIND_MANUAL_DISCLOSURE, kPolice, kSocial, this->Now());
  EXPECT_EQ(this->RecordManual(d).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(this->LogSize(), 1u);
  d.agency_id = kSocial;
  d.entry.set_actor(AgencyUri(kSocial));
  absl::StatusOr<uint64_t> seq = this->RecordManual(d);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
}

TYPED_TEST_P(StoreReferralConformance,
             LeaseGivesPendingMessagesOldestFirstAtMostMax) {
  for (const char* n : {"1", "2", "3"}) {
    ASSERT_TRUE(this->Refer(Referral(n, kSchool, kSocial, this->Now())).ok());
  }
  const absl::Time t = this->Now();
  absl::StatusOr<InboxLease> lease =
      this->Lease(kSocial, t, absl::Seconds(30), 2);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(lease->messages.size(), 2u);
  EXPECT_EQ(lease->messages[0].message_id(), "msg-1");
  EXPECT_EQ(lease->messages[1].message_id(), "msg-2");
  EXPECT_EQ(lease->messages[0].delivery_attempt(), 1u);
  // The two under a running lease are not given again.
  lease = this->Lease(kSocial, t + absl::Seconds(10), absl::Seconds(30), 10);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(lease->messages.size(), 1u);
  EXPECT_EQ(lease->messages[0].message_id(), "msg-3");
  // Another inbox holds none of them.
  lease = this->Lease(kSchool, t, absl::Seconds(30), 10);
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(lease->messages.empty());
}

TYPED_TEST_P(StoreReferralConformance,
             LeasedMessageIsGivenAgainOnceItsLeaseEnds) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  const absl::Time t = this->Now();
  ASSERT_EQ(this->Lease(kSocial, t, absl::Seconds(30), 10)->messages.size(),
            1u);
  EXPECT_TRUE(this->Lease(kSocial, t + absl::Seconds(29), absl::Seconds(30), 10)
                  ->messages.empty());
  absl::StatusOr<InboxLease> again =
      this->Lease(kSocial, t + absl::Seconds(31), absl::Seconds(30), 10);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->messages.size(), 1u);
  EXPECT_EQ(again->messages[0].message_id(), "msg-1");
  EXPECT_EQ(again->messages[0].delivery_attempt(), 2u);
}

TYPED_TEST_P(StoreReferralConformance,
             LeaseNamesWhenTheEarliestRunningLeaseEnds) {
  for (const char* n : {"1", "2"}) {
    ASSERT_TRUE(this->Refer(Referral(n, kSchool, kSocial, this->Now())).ok());
  }
  const absl::Time t = this->Now();
  absl::StatusOr<InboxLease> none =
      this->Lease(kPolice, t, absl::Seconds(30), 1);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->next_lease_end, absl::InfiniteFuture());
  absl::StatusOr<InboxLease> first =
      this->Lease(kSocial, t, absl::Seconds(30), 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->next_lease_end, t + absl::Seconds(30));
  absl::StatusOr<InboxLease> second =
      this->Lease(kSocial, t + absl::Seconds(10), absl::Seconds(30), 1);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->messages.size(), 1u);
  EXPECT_EQ(second->next_lease_end, t + absl::Seconds(30));
  // After the first lease ended, the second one's end is next.
  absl::StatusOr<InboxLease> third =
      this->Lease(kSocial, t + absl::Seconds(31), absl::Seconds(60), 1);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->next_lease_end, t + absl::Seconds(40));
}

TYPED_TEST_P(StoreReferralConformance, ExpiredMessageIsNotLeased) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  r.expires_at = this->Now() + absl::Hours(1);
  ASSERT_TRUE(this->Refer(r).ok());
  EXPECT_EQ(this->Lease(kSocial, this->Now() + absl::Minutes(59),
                        absl::Seconds(1), 10)
                ->messages.size(),
            1u);
  EXPECT_TRUE(this->Lease(kSocial, this->Now() + absl::Minutes(61),
                          absl::Seconds(1), 10)
                  ->messages.empty());
}

TYPED_TEST_P(StoreReferralConformance,
             AckOfAMessageTheInboxNeverHeldIsNotFound) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  EXPECT_EQ(this->Ack(kSocial, "msg-unknown").status().code(),
            absl::StatusCode::kNotFound);
  // Another agency's message is not in this inbox either.
  EXPECT_EQ(this->Ack(kPolice, "msg-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_EQ(this->GetReferral(kSchool, "ref-1")->status(),
            v1::REFERRAL_STATUS_SENT);
}

TYPED_TEST_P(StoreReferralConformance,
             FirstAckDeliversTheReferralAndTellsItsSenderOnce) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  absl::StatusOr<std::string> told = this->Ack(kSocial, "msg-1");
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(*told, kSchool);
  absl::StatusOr<v1::Referral> delivered = this->GetReferral(kSchool, "ref-1");
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered->status(), v1::REFERRAL_STATUS_DELIVERED);
  ASSERT_EQ(delivered->history_size(), 2);
  EXPECT_EQ(delivered->history(1).status(), v1::REFERRAL_STATUS_DELIVERED);
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].entry.kind(), v1::ENTRY_KIND_DELIVERY);
  std::vector<v1::InboxMessage> receipts = this->Inbox(kSchool);
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_EQ(receipts[0].referral_id(), "ref-1");
  EXPECT_EQ(receipts[0].referral_update().status(),
            v1::REFERRAL_STATUS_DELIVERED);
  // The acknowledged message is not given again.
  EXPECT_TRUE(this->Inbox(kSocial).empty());

  told = this->Ack(kSocial, "msg-1");
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(*told, "");
  EXPECT_EQ(this->LogSize(), 2u);
  EXPECT_EQ(this->GetReferral(kSchool, "ref-1")->history_size(), 2);
  // The sender holds the first receipt only.
  EXPECT_EQ(this->Inbox(kSchool).size(), 1u);
}

TYPED_TEST_P(StoreReferralConformance, ReferralIsReadOnlyByItsParties) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  EXPECT_EQ(this->GetReferral(kSchool, "ref-1")->referral_id(), "ref-1");
  EXPECT_EQ(this->GetReferral(kSocial, "ref-1")->referral_id(), "ref-1");
  EXPECT_EQ(this->GetReferral(kPolice, "ref-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->GetReferral(kSchool, "ref-2").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreReferralConformance,
             RecipientChangeIsAppliedLoggedAndSentToTheSender) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  ReferralChange change =
      this->Change("1", kSocial, v1::REFERRAL_STATUS_ACKNOWLEDGED, "seen");
  const std::string update_id = change.update->message_id();
  absl::StatusOr<v1::Referral> changed = this->ApplyChange(change);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(this->GetReferral(kSocial, "ref-1")->status(),
            v1::REFERRAL_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(this->LogSize(), 2u);
  std::vector<v1::InboxMessage> updates = this->Inbox(kSchool);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].message_id(), update_id);
  EXPECT_EQ(updates[0].referral_id(), "ref-1");
  EXPECT_EQ(updates[0].referral_update().SerializeAsString(),
            change.sender_event.SerializeAsString());
}

TYPED_TEST_P(StoreReferralConformance,
             ADeliveryGivenAgainIsTheReferralAsSentWhateverCameSince) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  ASSERT_TRUE(this->Refer(r).ok());
  std::vector<v1::InboxMessage> first = this->Inbox(kSocial);
  ASSERT_EQ(first.size(), 1u);
  // The recipient moves the referral on twice before acknowledging the
  // message: its lease ends and the message comes again, as it was.
  ASSERT_TRUE(
      this->ApplyChange(this->Change("1", kSocial,
                                     v1::REFERRAL_STATUS_ACKNOWLEDGED, "seen"))
          .ok());
  ASSERT_TRUE(this->ApplyChange(this->Change("1", kSocial,
                                             v1::REFERRAL_STATUS_ACCEPTED, ""))
                  .ok());
  std::vector<v1::InboxMessage> again = this->Inbox(kSocial);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id(), first[0].message_id());
  EXPECT_EQ(again[0].referral().SerializeAsString(),
            r.delivery.referral().SerializeAsString());
  EXPECT_EQ(again[0].delivery_attempt(), 2u);
  // The referral itself holds all three events, in order.
  absl::StatusOr<v1::Referral> now = this->GetReferral(kSocial, "ref-1");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->status(), v1::REFERRAL_STATUS_ACCEPTED);
  ASSERT_EQ(now->history_size(), 3);
  EXPECT_EQ(now->history(0).status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(now->history(1).status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(now->history(1).detail(), "seen");
  EXPECT_EQ(now->history(2).status(), v1::REFERRAL_STATUS_ACCEPTED);
  // Acknowledged now, it is already past DELIVERED: nothing moves, and
  // the message is not given again.
  ASSERT_TRUE(this->Ack(kSocial, first[0].message_id()).ok());
  EXPECT_EQ(this->GetReferral(kSocial, "ref-1")->history_size(), 3);
  EXPECT_TRUE(this->Inbox(kSocial).empty());
}

TYPED_TEST_P(StoreReferralConformance, OnlyTheRecipientChangesAReferral) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  for (const std::string& by : {kSchool, kPolice}) {
    absl::StatusOr<v1::Referral> changed = this->ApplyChange(
        this->Change("1", by, v1::REFERRAL_STATUS_ACKNOWLEDGED, ""));
    EXPECT_FALSE(changed.ok()) << by;
  }
  EXPECT_EQ(this->GetReferral(kSocial, "ref-1")->status(),
            v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_TRUE(this->Inbox(kSchool).empty());
}

TYPED_TEST_P(StoreReferralConformance,
             ChangeTheLifecycleDoesNotAllowIsRefusedAndChangesNothing) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  // A referral is closed only after it was acknowledged or decided.
  absl::StatusOr<v1::Referral> changed = this->ApplyChange(
      this->Change("1", kSocial, v1::REFERRAL_STATUS_CLOSED, "done"));
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition)
      << changed.status();
  absl::StatusOr<v1::Referral> stored = this->GetReferral(kSocial, "ref-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(stored->history_size(), 1);
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_TRUE(this->Inbox(kSchool).empty());
}

TYPED_TEST_P(StoreReferralConformance, ExpiredMessageTellsItsSenderOnce) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  r.expires_at = this->Now() + absl::Hours(1);
  ASSERT_TRUE(this->Refer(r).ok());
  const absl::Time t = this->Now();
  absl::StatusOr<std::vector<std::string>> told = this->RunSweep(
      &Store::ExpireInbox, t + absl::Hours(1) - absl::Seconds(1));
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_TRUE(told->empty());
  told = this->RunSweep(&Store::ExpireInbox, t + absl::Hours(1));
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(*told, std::vector<std::string>{kSchool});
  told = this->RunSweep(&Store::ExpireInbox, t + absl::Hours(2));
  ASSERT_TRUE(told.ok());
  EXPECT_TRUE(told->empty());
  absl::StatusOr<InboxLease> notices =
      this->Lease(kSchool, t + absl::Hours(2), absl::Seconds(1), 10);
  ASSERT_TRUE(notices.ok());
  ASSERT_EQ(notices->messages.size(), 1u);
  EXPECT_EQ(notices->messages[0].notice().kind(),
            v1::Notice::KIND_NON_DELIVERY);
  EXPECT_THAT(notices->messages[0].notice().message_ids(),
              ::testing::ElementsAre("msg-1"));
}

TYPED_TEST_P(StoreReferralConformance, BrokerNoticesExpireSilently) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  r.expires_at = this->Now() + absl::Hours(1);
  QueuedNotice& alert = r.notices.emplace_back();
  alert.agency_id = kPolice;
  alert.message.set_message_id("alert-1");
  alert.message.mutable_notice()->set_kind(v1::Notice::KIND_OVERRIDE_ALERT);
  ASSERT_TRUE(this->Refer(r).ok());
  const absl::Time t = this->Now() + absl::Hours(1);
  // The referral's sender is told; nobody is told of the alert.
  absl::StatusOr<std::vector<std::string>> told =
      this->RunSweep(&Store::ExpireInbox, t);
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(*told, std::vector<std::string>{kSchool});
  // Nor of the non-delivery notice, once its own time to live ended.
  told = this->RunSweep(&Store::ExpireInbox, t + absl::Hours(121));
  ASSERT_TRUE(told.ok());
  EXPECT_TRUE(told->empty());
  EXPECT_TRUE(this->Lease(kSchool, t + absl::Hours(121), absl::Seconds(1), 10)
                  ->messages.empty());
}

TYPED_TEST_P(StoreReferralConformance, ExpireInboxTakesAtMostMax) {
  for (const char* n : {"1", "2", "3"}) {
    NewReferral r = Referral(n, kSchool, kSocial, this->Now());
    r.expires_at = this->Now() + absl::Hours(1);
    ASSERT_TRUE(this->Refer(r).ok());
  }
  const absl::Time t = this->Now() + absl::Hours(1);
  EXPECT_EQ(this->RunSweep(&Store::ExpireInbox, t, 2)->size(), 2u);
  EXPECT_EQ(this->RunSweep(&Store::ExpireInbox, t, 2)->size(), 1u);
  EXPECT_EQ(this->RunSweep(&Store::ExpireInbox, t, 2)->size(), 0u);
}

TYPED_TEST_P(StoreReferralConformance, OverdueUrgentReferralIsEscalatedOnce) {
  const absl::Time t = this->Now();
  NewReferral urgent = Referral("1", kSchool, kSocial, t);
  urgent.referral.set_urgency(v1::URGENCY_IMMEDIATE);
  urgent.acknowledge_by = t + absl::Hours(1);
  ASSERT_TRUE(this->Refer(urgent).ok());
  ASSERT_TRUE(this->Refer(Referral("2", kSchool, kPolice, t)).ok());
  absl::StatusOr<v1::Case> c = this->GetCase(kSchool, "case-1");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(
      this->RunSweep(&Store::EscalateOverdue, t + absl::Minutes(59))->empty());
  absl::StatusOr<std::vector<std::string>> told =
      this->RunSweep(&Store::EscalateOverdue, t + absl::Minutes(61));
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_THAT(*told, ::testing::Contains(kSchool));
  EXPECT_THAT(*told, ::testing::Contains(c->manager_agency_id()));
  EXPECT_TRUE(
      this->RunSweep(&Store::EscalateOverdue, t + absl::Hours(3))->empty());
  absl::StatusOr<InboxLease> notices =
      this->Lease(kSchool, t + absl::Hours(3), absl::Seconds(1), 10);
  ASSERT_TRUE(notices.ok());
  ASSERT_EQ(notices->messages.size(), 1u);
  EXPECT_EQ(notices->messages[0].notice().kind(), v1::Notice::KIND_ESCALATION);
  EXPECT_EQ(notices->messages[0].notice().referral_id(), "ref-1");
}

TYPED_TEST_P(StoreReferralConformance,
             OnlyReferralsStillSentOrDeliveredAreEscalated) {
  const absl::Time t = this->Now();
  for (const char* n : {"1", "2"}) {
    NewReferral urgent = Referral(n, kSchool, kSocial, t);
    urgent.referral.set_urgency(v1::URGENCY_WITHIN_24H);
    urgent.acknowledge_by = t + absl::Hours(24);
    ASSERT_TRUE(this->Refer(urgent).ok());
  }
  ASSERT_TRUE(this->Ack(kSocial, "msg-1").ok());  // DELIVERED
  ASSERT_TRUE(
      this->ApplyChange(
              this->Change("2", kSocial, v1::REFERRAL_STATUS_ACKNOWLEDGED, ""))
          .ok());
  ASSERT_TRUE(
      this->RunSweep(&Store::EscalateOverdue, t + absl::Hours(25)).ok());
  std::vector<std::string> escalated;
  absl::StatusOr<InboxLease> inbox =
      this->Lease(kSchool, t + absl::Hours(25), absl::Seconds(1), 10);
  ASSERT_TRUE(inbox.ok());
  for (const v1::InboxMessage& m : inbox->messages) {
    if (m.notice().kind() == v1::Notice::KIND_ESCALATION) {
      escalated.push_back(m.notice().referral_id());
    }
  }
  EXPECT_EQ(escalated, std::vector<std::string>{"ref-1"});
}

TYPED_TEST_P(StoreReferralConformance,
             ADetachedAgencyIsRefusedAndAReferralAttachesItAgain) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  const uint64_t before = this->LogSize();
  // Only the manager (the recipient) detaches another agency.
  EXPECT_EQ(this->ChangeCase(kSchool, v1::CASE_OUTCOME_UNSPECIFIED, kSocial)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(this->LogSize(), before);
  absl::StatusOr<v1::Case> c =
      this->ChangeCase(kSocial, v1::CASE_OUTCOME_UNSPECIFIED, kSchool);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(this->LogSize(), before + 1);
  EXPECT_EQ(this->Entries().back().entry.kind(), v1::ENTRY_KIND_CASE_DETACHED);
  EXPECT_EQ(this->Entries().back().entry.subject_pseudonym(), kSubject);
  bool detached = false;
  for (const v1::CaseAgency& a : c->agencies()) {
    if (a.agency_id() == kSchool) {
      detached = a.has_detached_at() &&
                 a.detach_reason() == v1::DETACH_REASON_NO_LONGER_INVOLVED;
    }
  }
  EXPECT_TRUE(detached) << c->ShortDebugString();
  // The detached school may not refer within the case...
  absl::StatusOr<v1::SendReferralResponse> refused = this->Refer(
      JoiningReferral("2", kSchool, kPolice, "case-1", this->Now()));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied)
      << refused.status();
  EXPECT_EQ(this->LogSize(), before + 1);
  // ...until a referral to it on the case attaches it again.
  ASSERT_TRUE(
      this->Refer(JoiningReferral("3", kSocial, kSchool, "case-1", this->Now()))
          .ok());
  absl::StatusOr<v1::Case> again = this->GetCase(kSchool, "case-1");
  ASSERT_TRUE(again.ok()) << again.status();
  for (const v1::CaseAgency& a : again->agencies()) {
    EXPECT_FALSE(a.has_detached_at()) << a.ShortDebugString();
  }
}

TYPED_TEST_P(StoreReferralConformance, AClosedCaseTakesNoMoreReferrals) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  EXPECT_EQ(this->ChangeCase(kSchool, v1::CASE_OUTCOME_SUPPORT_IN_PLACE)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<v1::Case> closed =
      this->ChangeCase(kSocial, v1::CASE_OUTCOME_SUPPORT_IN_PLACE);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_TRUE(closed->has_closed_at());
  EXPECT_EQ(closed->outcome(), v1::CASE_OUTCOME_SUPPORT_IN_PLACE);
  const uint64_t after_close = this->LogSize();
  EXPECT_EQ(this->Entries().back().entry.kind(), v1::ENTRY_KIND_CASE_CLOSED);
  EXPECT_EQ(this->ChangeCase(kSocial, v1::CASE_OUTCOME_NO_FURTHER_ACTION)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<v1::SendReferralResponse> refused = this->Refer(
      JoiningReferral("2", kSocial, kPolice, "case-1", this->Now()));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  EXPECT_EQ(this->LogSize(), after_close);
  // Still readable by its agencies, as closed.
  absl::StatusOr<v1::Case> read = this->GetCase(kSchool, "case-1");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->outcome(), v1::CASE_OUTCOME_SUPPORT_IN_PLACE);
}

TYPED_TEST_P(StoreReferralConformance,
             PurgeKeepsWhatTheLifecycleNeedsAndLogsItsCountsOnce) {
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  r.referral.set_requested_action("assess needs");
  *r.delivery.mutable_referral() = r.referral;
  ASSERT_TRUE(this->Refer(r).ok());
  ASSERT_EQ(this->Inbox(kSocial).size(), 1u);
  ASSERT_TRUE(this->Ack(kSocial, "msg-1").ok());
  const std::vector<std::string> agencies = {kSchool, kSocial};
  // Nothing is due while the case is open: the acknowledged message only
  // once its own cutoff passes.
  absl::StatusOr<PurgeCounts> none =
      this->PurgeFor(agencies, this->Now() - absl::Hours(1));
  ASSERT_TRUE(none.ok()) << none.status();
  for (int64_t n : none->n) EXPECT_EQ(n, 0);
  const uint64_t before = this->LogSize();
  ASSERT_TRUE(
      this->ChangeCase(kSocial, v1::CASE_OUTCOME_SUPPORT_IN_PLACE).ok());
  absl::StatusOr<PurgeCounts> purged =
      this->PurgeFor(agencies, this->Now() + absl::Hours(1));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ((*purged)[HeldKind::kReferral], 1);
  EXPECT_GE((*purged)[HeldKind::kInboxMessage], 1);
  // The closure's entry, then one PURGE entry with the counts.
  ASSERT_EQ(this->LogSize(), before + 2);
  const v1::LogEntry last = this->Entries().back().entry;
  EXPECT_EQ(last.kind(), v1::ENTRY_KIND_PURGE);
  bool counted = false;
  for (const v1::PurgeCount& c : last.purged()) {
    counted = counted || (c.kind() == "referral" && c.count() == 1);
  }
  EXPECT_TRUE(counted) << last.ShortDebugString();
  absl::StatusOr<v1::Referral> kept = this->GetReferral(kSchool, "ref-1");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->referral_id(), "ref-1");
  EXPECT_EQ(kept->case_id(), "case-1");
  EXPECT_EQ(kept->status(), v1::REFERRAL_STATUS_DELIVERED);
  EXPECT_EQ(kept->requested_action(), "");
  EXPECT_FALSE(kept->has_subject());
  EXPECT_EQ(kept->concerns_size(), 0);
  ASSERT_GE(kept->history_size(), 1);
  EXPECT_EQ(kept->history(0).status(), v1::REFERRAL_STATUS_SENT);
  // Purged once: a second run finds nothing and logs nothing.
  absl::StatusOr<PurgeCounts> again =
      this->PurgeFor(agencies, this->Now() + absl::Hours(1));
  ASSERT_TRUE(again.ok()) << again.status();
  for (int64_t n : again->n) EXPECT_EQ(n, 0);
  EXPECT_EQ(this->LogSize(), before + 2);
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreReferralConformance, ReferralOpeningACaseIsStoredLoggedAndDelivered,
    PurgeKeepsWhatTheLifecycleNeedsAndLogsItsCountsOnce,
    ADetachedAgencyIsRefusedAndAReferralAttachesItAgain,
    AClosedCaseTakesNoMoreReferrals,
    AReferralTakenBackBeforeItsAckLeavesTheInboxAndItsContent,
    AReferralTakenBackAfterItsAckIsRecalledWithANotice,
    ReferralQueuesItsNotices, ReferralJoiningACaseAttachesItsRecipient,
    ReferralJoiningAMissingCaseIsNotFoundAndWritesNothing,
    ReferralJoiningACaseItsSenderIsNotOnIsNotFound,
    ReferralRetryReturnsTheFirstResponseAndWritesNothing,
    ReferralKeyReusedForAnotherRequestIsAlreadyExists,
    ManualDisclosureIsLoggedOnceUnderItsKey,
    ManualDisclosureNeedsACaseItsAgencyIsOn,
    LeaseGivesPendingMessagesOldestFirstAtMostMax,
    LeasedMessageIsGivenAgainOnceItsLeaseEnds,
    LeaseNamesWhenTheEarliestRunningLeaseEnds, ExpiredMessageIsNotLeased,
    AckOfAMessageTheInboxNeverHeldIsNotFound,
    FirstAckDeliversTheReferralAndTellsItsSenderOnce,
    ReferralIsReadOnlyByItsParties,
    RecipientChangeIsAppliedLoggedAndSentToTheSender,
    ADeliveryGivenAgainIsTheReferralAsSentWhateverCameSince,
    OnlyTheRecipientChangesAReferral,
    ChangeTheLifecycleDoesNotAllowIsRefusedAndChangesNothing,
    ExpiredMessageTellsItsSenderOnce, BrokerNoticesExpireSilently,
    ExpireInboxTakesAtMostMax, OverdueUrgentReferralIsEscalatedOnce,
    OnlyReferralsStillSentOrDeliveredAreEscalated);

}  // namespace liaison::conformance

#endif  // LIAISON_BROKER_STORE_STORE_CONFORMANCE_REFERRALS_H_
