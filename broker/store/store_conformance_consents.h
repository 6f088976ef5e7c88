// Conformance of need-to-know summaries and the consent registry
// (store.h), including the recall of what was disclosed under a withdrawn
// consent. Instantiated by each backend's conformance test.
#ifndef LIAISON_BROKER_STORE_STORE_CONFORMANCE_CONSENTS_H_
#define LIAISON_BROKER_STORE_STORE_CONFORMANCE_CONSENTS_H_

#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "broker/store/store_conformance.h"

namespace liaison::conformance {

// A push from `sender` to the agencies of `case_id`: an allowed disclosure
// to `to` and a denial for `denied`.
inline SummaryPush Push(const std::string& n, const std::string& sender,
                        const std::string& case_id, const std::string& to,
                        const std::string& denied, absl::Time at) {
  SummaryPush p;
  p.sender_agency_id = sender;
  p.idempotency_key = "push-key-" + n;
  p.request_digest = "push-digest-" + n;
  p.case_id = case_id;
  p.subject_pseudonym = kSubject;
  SummaryPush::Outcome& allowed = p.outcomes.emplace_back();
  allowed.agency_id = to;
  allowed.entry = Entry(v1::ENTRY_KIND_DISCLOSURE, sender, to, at);
  allowed.entry.set_message_id("summary-" + n);
  v1::InboxMessage& delivery = allowed.delivery.emplace();
  delivery.set_message_id("summary-msg-" + n + "-" + to);
  *delivery.mutable_enqueued_at() = Stamp(at);
  delivery.mutable_summary()->set_summary_id("summary-" + n);
  delivery.mutable_summary()->set_case_id(case_id);
  SummaryPush::Outcome& refused = p.outcomes.emplace_back();
  refused.agency_id = denied;
  refused.entry = Entry(v1::ENTRY_KIND_DENIAL, sender, denied, at);
  p.expires_at = at + absl::Hours(120);
  p.response.set_summary_id("summary-" + n);
  p.response.add_deliveries()->set_agency_id(to);
  p.response.add_deliveries()->set_agency_id(denied);
  return p;
}

// A request from `requester` to `holder` about kSubject, outside any case.
inline NewSummaryRequest SummaryRequest(const std::string& n,
                                        const std::string& requester,
                                        const std::string& holder,
                                        absl::Time at) {
  NewSummaryRequest r;
  r.requester_agency_id = requester;
  r.idempotency_key = "request-key-" + n;
  r.request_digest = "request-digest-" + n;
  r.holder_agency_id = holder;
  r.subject_pseudonym = kSubject;
  r.legitimate_relationship = true;
  r.request.set_request_id("request-" + n);
  r.request.set_requester_agency_id(requester);
  r.request.set_purpose("child_protection");
  r.delivery.set_message_id("request-msg-" + n);
  *r.delivery.mutable_enqueued_at() = Stamp(at);
  *r.delivery.mutable_summary_request() = r.request;
  r.entry = Entry(v1::ENTRY_KIND_SUMMARY_REQUEST, requester, holder, at);
  r.expires_at = at + absl::Hours(120);
  r.response.set_request_id("request-" + n);
  r.response.set_holder_agency_id(holder);
  return r;
}

inline SummaryAnswer Answer(const NewSummaryRequest& request, absl::Time at) {
  SummaryAnswer a;
  a.holder_agency_id = request.holder_agency_id;
  a.request_id = request.request.request_id();
  a.requester_agency_id = request.requester_agency_id;
  a.delivery.set_message_id("answer-msg-" + a.request_id);
  *a.delivery.mutable_enqueued_at() = Stamp(at);
  a.delivery.mutable_summary()->set_request_id(a.request_id);
  a.entry = Entry(v1::ENTRY_KIND_DISCLOSURE, a.holder_agency_id,
                  a.requester_agency_id, at);
  a.expires_at = at + absl::Hours(120);
  return a;
}

template <typename Factory>
class StoreConsentConformance : public StoreConformance<Factory> {
 protected:
  absl::StatusOr<v1::PushSummaryResponse> CommitPush(SummaryPush p) {
    return Await<v1::PushSummaryResponse>([&](auto done) {
      this->store().CommitSummaryPush(std::move(p), done);
    });
  }
  absl::StatusOr<v1::RequestSummaryResponse> CommitRequest(
      NewSummaryRequest r) {
    return Await<v1::RequestSummaryResponse>([&](auto done) {
      this->store().CommitSummaryRequest(std::move(r), done);
    });
  }
  absl::StatusOr<StoredSummaryRequest> GetRequest(const std::string& holder,
                                                  const std::string& id) {
    return Await<StoredSummaryRequest>(
        [&](auto done) { this->store().GetSummaryRequest(holder, id, done); });
  }
  absl::StatusOr<uint64_t> CommitAnswer(SummaryAnswer a) {
    return Await<uint64_t>([&](auto done) {
      this->store().CommitSummaryAnswer(std::move(a), done);
    });
  }
  absl::StatusOr<StoredConsent> GetConsent(const std::string& id) {
    return Await<StoredConsent>(
        [&](auto done) { this->store().GetConsent(id, done); });
  }
  absl::StatusOr<ConsentFacts> Facts(const std::string& id,
                                     const std::string& subject) {
    return Await<ConsentFacts>(
        [&](auto done) { this->store().LoadConsentFacts(id, subject, done); });
  }
  absl::StatusOr<WithdrawnConsent> Withdraw(const std::string& id,
                                            absl::Time at) {
    ConsentWithdrawal w;
    w.consent_id = id;
    w.at = at;
    w.reason = "the person changed their mind";
    w.entry = Entry(v1::ENTRY_KIND_CONSENT_WITHDRAWN, kSchool, "", at);
    w.entry.set_consent_id(id);
    w.notice_expires_at = at + absl::Hours(120);
    return Await<WithdrawnConsent>(
        [&](auto done) { this->store().WithdrawConsent(std::move(w), done); });
  }
};
TYPED_TEST_SUITE_P(StoreConsentConformance);

TYPED_TEST_P(StoreConsentConformance,
             SummaryPushLogsEachOutcomeAndDeliversTheAllowed) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  SummaryPush p = Push("1", kSchool, "case-1", kSocial, kPolice, this->Now());
  absl::StatusOr<v1::PushSummaryResponse> pushed = this->CommitPush(p);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->SerializeAsString(), p.response.SerializeAsString());
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1].entry.kind(), v1::ENTRY_KIND_DISCLOSURE);
  EXPECT_EQ(log[1].entry.counterpart(), kSocial);
  EXPECT_EQ(log[2].entry.kind(), v1::ENTRY_KIND_DENIAL);
  EXPECT_EQ(log[2].entry.counterpart(), kPolice);
  std::vector<v1::InboxMessage> inbox = this->Inbox(kSocial);
  ASSERT_EQ(inbox.size(), 2u);  // the referral, then the summary
  EXPECT_EQ(inbox[1].message_id(), "summary-msg-1-social");
  EXPECT_TRUE(this->Inbox(kPolice).empty());
}

TYPED_TEST_P(StoreConsentConformance, SummaryPushRetryReturnsTheFirstResponse) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  SummaryPush p = Push("1", kSchool, "case-1", kSocial, kPolice, this->Now());
  ASSERT_TRUE(this->CommitPush(p).ok());
  SummaryPush retry = p;
  retry.outcomes[0].delivery->set_message_id("summary-msg-retry");
  retry.response.set_summary_id("summary-retry");
  absl::StatusOr<v1::PushSummaryResponse> again = this->CommitPush(retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->summary_id(), "summary-1");
  SummaryPush other = p;
  other.request_digest = "another";
  EXPECT_EQ(this->CommitPush(other).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(this->LogSize(), 3u);
  EXPECT_EQ(this->Inbox(kSocial).size(), 2u);
}

TYPED_TEST_P(StoreConsentConformance,
             SummaryPushNeedsItsSenderOnACaseAboutItsSubject) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  SummaryPush outsider =
      Push("1", kPolice, "case-1", kSocial, kClinic, this->Now());
  EXPECT_EQ(this->CommitPush(outsider).status().code(),
            absl::StatusCode::kNotFound);
  SummaryPush other_person =
      Push("2", kSchool, "case-1", kSocial, kPolice, this->Now());
  other_person.subject_pseudonym = kOtherSubject;
  EXPECT_EQ(this->CommitPush(other_person).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_EQ(this->Inbox(kSocial).size(), 1u);
}

TYPED_TEST_P(StoreConsentConformance,
             SummaryRequestIsStoredLoggedAndGivenToItsHolder) {
  NewSummaryRequest r = SummaryRequest("1", kPolice, kClinic, this->Now());
  absl::StatusOr<v1::RequestSummaryResponse> asked = this->CommitRequest(r);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->SerializeAsString(), r.response.SerializeAsString());
  absl::StatusOr<StoredSummaryRequest> stored =
      this->GetRequest(kClinic, "request-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->request.SerializeAsString(), r.request.SerializeAsString());
  EXPECT_EQ(stored->holder_agency_id, kClinic);
  EXPECT_EQ(stored->case_id, "");
  EXPECT_TRUE(stored->legitimate_relationship);
  EXPECT_FALSE(stored->answered);
  std::vector<v1::InboxMessage> inbox = this->Inbox(kClinic);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].summary_request().request_id(), "request-1");
  ASSERT_EQ(this->LogSize(), 1u);
  // A retry returns the first response and stores nothing twice.
  NewSummaryRequest retry = r;
  retry.request.set_request_id("request-retry");
  retry.delivery.set_message_id("request-msg-retry");
  absl::StatusOr<v1::RequestSummaryResponse> again = this->CommitRequest(retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->request_id(), "request-1");
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_EQ(this->GetRequest(kClinic, "request-retry").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConsentConformance,
             SummaryRequestCitingACaseAboutAnotherPersonIsInvalid) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  NewSummaryRequest r = SummaryRequest("1", kSocial, kClinic, this->Now());
  r.case_id = "case-1";
  r.subject_pseudonym = kOtherSubject;
  EXPECT_EQ(this->CommitRequest(r).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->LogSize(), 1u);
  EXPECT_TRUE(this->Inbox(kClinic).empty());
}

TYPED_TEST_P(StoreConsentConformance, SummaryRequestIsReadOnlyByItsHolder) {
  ASSERT_TRUE(
      this->CommitRequest(SummaryRequest("1", kPolice, kClinic, this->Now()))
          .ok());
  EXPECT_EQ(this->GetRequest(kPolice, "request-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->GetRequest(kSchool, "request-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->GetRequest(kClinic, "request-2").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConsentConformance, SummaryRequestIsAnsweredOnce) {
  NewSummaryRequest r = SummaryRequest("1", kPolice, kClinic, this->Now());
  ASSERT_TRUE(this->CommitRequest(r).ok());
  absl::StatusOr<uint64_t> seq = this->CommitAnswer(Answer(r, this->Now()));
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
  EXPECT_TRUE(this->GetRequest(kClinic, "request-1")->answered);
  std::vector<v1::InboxMessage> inbox = this->Inbox(kPolice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].summary().request_id(), "request-1");

  SummaryAnswer twice = Answer(r, this->Now());
  twice.delivery.set_message_id("answer-msg-again");
  EXPECT_EQ(this->CommitAnswer(twice).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->LogSize(), 2u);
  // The requester holds the first answer only.
  EXPECT_EQ(this->Inbox(kPolice).size(), 1u);
}

TYPED_TEST_P(StoreConsentConformance, ConsentIsStoredAndLogged) {
  NewConsent c = Consent("c1", kSchool, kSubject, false, this->Now());
  absl::StatusOr<v1::Consent> recorded = this->RecordConsent(c);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->SerializeAsString(), c.consent.SerializeAsString());
  absl::StatusOr<StoredConsent> stored = this->GetConsent("c1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->consent.SerializeAsString(), c.consent.SerializeAsString());
  EXPECT_EQ(stored->subject_pseudonym, kSubject);
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].entry.kind(), v1::ENTRY_KIND_CONSENT_RECORDED);
  EXPECT_EQ(this->GetConsent("c2").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConsentConformance,
             ConsentRetryReturnsTheConsentFirstStored) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  NewConsent retry = Consent("c2", kSchool, kSubject, false, this->Now());
  retry.idempotency_key = "consent-key-c1";
  retry.request_digest = "consent-digest-c1";
  absl::StatusOr<v1::Consent> again = this->RecordConsent(retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->consent_id(), "c1");
  retry.request_digest = "another";
  EXPECT_EQ(this->RecordConsent(retry).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(this->GetConsent("c2").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->LogSize(), 1u);
}

TYPED_TEST_P(StoreConsentConformance,
             ConsentFactsHoldTheConsentAndEveryRefusal) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  for (const char* id : {"r1", "r2"}) {
    ASSERT_TRUE(
        this->RecordConsent(Consent(id, kClinic, kSubject, true, this->Now()))
            .ok());
  }
  ASSERT_TRUE(this->RecordConsent(
                      Consent("r3", kClinic, kOtherSubject, true, this->Now()))
                  .ok());
  ASSERT_TRUE(this->Withdraw("r1", this->Now()).ok());

  absl::StatusOr<ConsentFacts> facts = this->Facts("c1", kSubject);
  ASSERT_TRUE(facts.ok()) << facts.status();
  ASSERT_TRUE(facts->consent.has_value());
  EXPECT_EQ(facts->consent->consent.consent_id(), "c1");
  EXPECT_EQ(facts->consent->subject_pseudonym, kSubject);
  std::vector<std::string> refusals;
  for (const v1::Consent& r : facts->refusals) {
    refusals.push_back(r.consent_id());
    EXPECT_EQ(r.has_withdrawn_at(), r.consent_id() == "r1");
  }
  EXPECT_THAT(refusals, ::testing::UnorderedElementsAre("r1", "r2"));

  // No consent asked for, or none with that id: the refusals still count.
  for (const char* id : {"", "unknown"}) {
    facts = this->Facts(id, kSubject);
    ASSERT_TRUE(facts.ok()) << facts.status();
    EXPECT_FALSE(facts->consent.has_value());
    EXPECT_EQ(facts->refusals.size(), 2u);
  }
}

TYPED_TEST_P(StoreConsentConformance,
             WithdrawalRecallsFromEveryAgencyThatReceivedUnderIt) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  for (const auto& [n, to] : std::vector<std::pair<std::string, std::string>>{
           {"1", kSocial}, {"2", kPolice}, {"3", kSocial}}) {
    NewReferral r = Referral(n, kSchool, to, this->Now());
    UnderConsent("c1", &r);
    ASSERT_TRUE(this->Refer(r).ok());
  }
  ASSERT_TRUE(this->Refer(Referral("4", kSchool, kClinic, this->Now())).ok());
  const uint64_t before = this->LogSize();
  const absl::Time at = this->Now();
  absl::StatusOr<WithdrawnConsent> withdrawn = this->Withdraw("c1", at);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_THAT(withdrawn->recalled,
              ::testing::UnorderedElementsAre(kSocial, kPolice));
  EXPECT_EQ(withdrawn->consent.withdrawn_at().seconds(),
            absl::ToUnixSeconds(at));
  EXPECT_EQ(this->GetConsent("c1")->consent.withdrawn_at().seconds(),
            absl::ToUnixSeconds(at));
  // The withdrawal's entry and one per agency, naming its recall notice.
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), before + 3);
  EXPECT_EQ(log[before].entry.kind(), v1::ENTRY_KIND_CONSENT_WITHDRAWN);
  for (const std::string& agency : {kSocial, kPolice}) {
    std::vector<std::string> recalled;
    std::string notice_id;
    for (const v1::InboxMessage& m : this->Inbox(agency)) {
      if (m.notice().kind() != v1::Notice::KIND_CONSENT_RECALL) continue;
      EXPECT_EQ(m.notice().consent_id(), "c1");
      notice_id = m.message_id();
      recalled.assign(m.notice().message_ids().begin(),
                      m.notice().message_ids().end());
    }
    const std::vector<std::string> received =
        agency == kSocial ? std::vector<std::string>{"msg-1", "msg-3"}
                          : std::vector<std::string>{"msg-2"};
    EXPECT_EQ(recalled, received);
    int naming = 0;
    for (size_t i = before + 1; i < log.size(); ++i) {
      naming += log[i].entry.message_id() == notice_id ? 1 : 0;
    }
    EXPECT_EQ(naming, 1) << agency;
  }
  for (const v1::InboxMessage& m : this->Inbox(kClinic)) {
    EXPECT_FALSE(m.has_notice());
  }
}

TYPED_TEST_P(StoreConsentConformance,
             AnAcknowledgedRecallPurgesTheBrokersCopiesAtOnce) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  UnderConsent("c1", &r);
  ASSERT_TRUE(this->Refer(r).ok());
  const auto ack = [&](const std::string& id) {
    return Await<std::string>([&](auto done) {
      this->store().AckMessage(
          kSocial, id, this->Now(),
          Entry(v1::ENTRY_KIND_DELIVERY, kSocial, "", this->Now()),
          v1::InboxMessage(), this->Now() + absl::Hours(120), done);
    });
  };
  ASSERT_EQ(this->Inbox(kSocial).size(), 1u);
  ASSERT_TRUE(ack("msg-1").ok());
  ASSERT_TRUE(this->Withdraw("c1", this->Now()).ok());
  std::string notice_id;
  for (const v1::InboxMessage& m : this->Inbox(kSocial)) {
    if (m.notice().kind() == v1::Notice::KIND_CONSENT_RECALL) {
      notice_id = m.message_id();
    }
  }
  ASSERT_FALSE(notice_id.empty());
  // Until the recall is acknowledged the referral is kept as sent.
  absl::StatusOr<v1::Referral> held = this->GetReferral(kSchool, "ref-1");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_GT(held->concerns_size(), 0);
  const uint64_t before = this->LogSize();
  ASSERT_TRUE(ack(notice_id).ok());
  ASSERT_EQ(this->LogSize(), before + 1);
  const v1::LogEntry purge = this->Entries().back().entry;
  EXPECT_EQ(purge.kind(), v1::ENTRY_KIND_PURGE);
  EXPECT_EQ(purge.consent_id(), "c1");
  EXPECT_EQ(purge.counterpart(), kSocial);
  bool referral = false, message = false;
  for (const v1::PurgeCount& c : purge.purged()) {
    referral = referral || (c.kind() == "referral" && c.count() == 1);
    message = message || (c.kind() == "inbox_message" && c.count() == 1);
  }
  EXPECT_TRUE(referral && message) << purge.ShortDebugString();
  absl::StatusOr<v1::Referral> kept = this->GetReferral(kSchool, "ref-1");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->referral_id(), "ref-1");
  EXPECT_EQ(kept->concerns_size(), 0);
  EXPECT_FALSE(kept->has_record());
  // Acknowledged again, nothing more is purged or logged.
  ASSERT_TRUE(ack(notice_id).ok());
  EXPECT_EQ(this->LogSize(), before + 1);
}

TYPED_TEST_P(StoreConsentConformance,
             WithdrawingTwiceReturnsItUnchangedAndSendsNothing) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  UnderConsent("c1", &r);
  ASSERT_TRUE(this->Refer(r).ok());
  const absl::Time at = this->Now();
  absl::StatusOr<WithdrawnConsent> first = this->Withdraw("c1", at);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->recalled.size(), 1u);
  const uint64_t logged = this->LogSize();
  const size_t held = this->Inbox(kSocial).size();

  absl::StatusOr<WithdrawnConsent> second =
      this->Withdraw("c1", at + absl::Hours(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->recalled.empty());
  EXPECT_EQ(second->consent.SerializeAsString(),
            first->consent.SerializeAsString());
  EXPECT_EQ(this->LogSize(), logged);
  EXPECT_EQ(this->Inbox(kSocial).size(), held);
}

TYPED_TEST_P(StoreConsentConformance,
             ReferralUnderAConsentWithdrawnMeanwhileChangesNothing) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  // Decided while the consent held; committed after it was withdrawn.
  NewReferral r = Referral("1", kSchool, kSocial, this->Now());
  UnderConsent("c1", &r);
  ASSERT_TRUE(this->Withdraw("c1", this->Now()).ok());
  const uint64_t logged = this->LogSize();
  EXPECT_EQ(this->Refer(r).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->LogSize(), logged);
  EXPECT_TRUE(this->Inbox(kSocial).empty());
  EXPECT_EQ(this->GetReferral(kSchool, "ref-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->GetCase(kSchool, "case-1").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConsentConformance,
             SummaryUnderAConsentWithdrawnMeanwhileChangesNothing) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  SummaryPush p = Push("1", kSchool, "case-1", kSocial, kPolice, this->Now());
  p.outcomes[0].entry.set_basis(v1::BASIS_KIND_CONSENT);
  p.outcomes[0].entry.set_consent_id("c1");
  NewSummaryRequest r = SummaryRequest("1", kPolice, kClinic, this->Now());
  ASSERT_TRUE(this->CommitRequest(r).ok());
  SummaryAnswer a = Answer(r, this->Now());
  a.entry.set_basis(v1::BASIS_KIND_CONSENT);
  a.entry.set_consent_id("c1");
  ASSERT_TRUE(this->Withdraw("c1", this->Now()).ok());
  const uint64_t logged = this->LogSize();
  EXPECT_EQ(this->CommitPush(p).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->CommitAnswer(a).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->LogSize(), logged);
  EXPECT_EQ(this->Inbox(kSocial).size(), 1u);  // the referral only
  EXPECT_TRUE(this->Inbox(kPolice).empty());
  EXPECT_FALSE(this->GetRequest(kClinic, "request-1")->answered);
  // Nothing was remembered under the push's key either.
  p.outcomes[0].entry.clear_consent_id();
  p.outcomes[0].entry.set_basis(v1::BASIS_KIND_STATUTORY_DUTY);
  EXPECT_TRUE(this->CommitPush(p).ok());
  EXPECT_EQ(this->LogSize(), logged + 2);
}

TYPED_TEST_P(StoreConsentConformance,
             FeedbackUnderAConsentWithdrawnMeanwhileChangesNothing) {
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSocial, kSubject, false, this->Now()))
          .ok());
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  ReferralChange change;
  change.agency_id = kSocial;
  change.referral_id = "ref-1";
  change.event.set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
  *change.event.mutable_at() = Stamp(this->Now());
  change.event.set_feedback_level(v1::LEVEL_SIGNAL);
  change.feedback =
      Entry(v1::ENTRY_KIND_DISCLOSURE, kSocial, kSchool, this->Now());
  change.feedback.set_basis(v1::BASIS_KIND_CONSENT);
  change.feedback.set_consent_id("c1");
  change.sender_event = change.event;
  change.update.emplace().set_message_id("update-1");
  change.update_expires_at = this->Now() + absl::Hours(120);
  ASSERT_TRUE(this->Withdraw("c1", this->Now()).ok());
  const uint64_t logged = this->LogSize();
  absl::StatusOr<v1::Referral> changed = Await<v1::Referral>(
      [&](auto done) { this->store().ChangeReferral(change, done); });
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition)
      << changed.status();
  EXPECT_EQ(this->LogSize(), logged);
  EXPECT_EQ(this->GetReferral(kSocial, "ref-1")->status(),
            v1::REFERRAL_STATUS_SENT);
  EXPECT_TRUE(this->Inbox(kSchool).empty());
}

TYPED_TEST_P(StoreConsentConformance,
             AnEndedConsentLosesItsEvidenceAndKeepsItsTerms) {
  NewConsent c = Consent("c1", kSchool, kSubject, false, this->Now());
  c.consent.mutable_evidence()->set_form_reference("form-17");
  c.consent.mutable_subject()->set_identifier("20110304-1234");
  ASSERT_TRUE(this->RecordConsent(c).ok());
  const std::vector<std::string> agencies = {kSchool};
  // In force: nothing is due.
  absl::StatusOr<PurgeCounts> none =
      this->PurgeFor(agencies, this->Now() + absl::Hours(1));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ((*none)[HeldKind::kConsentEvidence], 0);
  ASSERT_TRUE(this->Withdraw("c1", this->Now()).ok());
  // Withdrawn, but its retention not yet over.
  none = this->PurgeFor(agencies, this->Now() - absl::Hours(1));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ((*none)[HeldKind::kConsentEvidence], 0);
  absl::StatusOr<PurgeCounts> purged =
      this->PurgeFor(agencies, this->Now() + absl::Hours(1));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ((*purged)[HeldKind::kConsentEvidence], 1);
  absl::StatusOr<StoredConsent> kept = this->GetConsent("c1");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->consent.has_evidence());
  EXPECT_FALSE(kept->consent.has_subject());
  EXPECT_TRUE(kept->consent.has_withdrawn_at());
  EXPECT_EQ(kept->consent.purposes_size(), 1);
  EXPECT_EQ(kept->consent.max_level(), v1::LEVEL_SUMMARY);
  EXPECT_EQ(this->Entries().back().entry.kind(), v1::ENTRY_KIND_PURGE);
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreConsentConformance, SummaryPushLogsEachOutcomeAndDeliversTheAllowed,
    AnEndedConsentLosesItsEvidenceAndKeepsItsTerms,
    AnAcknowledgedRecallPurgesTheBrokersCopiesAtOnce,
    SummaryPushRetryReturnsTheFirstResponse,
    SummaryPushNeedsItsSenderOnACaseAboutItsSubject,
    SummaryRequestIsStoredLoggedAndGivenToItsHolder,
    SummaryRequestCitingACaseAboutAnotherPersonIsInvalid,
    SummaryRequestIsReadOnlyByItsHolder, SummaryRequestIsAnsweredOnce,
    ConsentIsStoredAndLogged, ConsentRetryReturnsTheConsentFirstStored,
    ConsentFactsHoldTheConsentAndEveryRefusal,
    WithdrawalRecallsFromEveryAgencyThatReceivedUnderIt,
    WithdrawingTwiceReturnsItUnchangedAndSendsNothing,
    ReferralUnderAConsentWithdrawnMeanwhileChangesNothing,
    SummaryUnderAConsentWithdrawnMeanwhileChangesNothing,
    FeedbackUnderAConsentWithdrawnMeanwhileChangesNothing);

}  // namespace liaison::conformance

#endif  // LIAISON_BROKER_STORE_STORE_CONFORMANCE_CONSENTS_H_
