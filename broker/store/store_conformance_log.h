// Conformance of the disclosure log (store.h; DESIGN.md section 8): signed
// heads over every commit, the auditors' queries and proofs, sealed
// override statements and their reviews, atomicity and concurrent commits.
// Instantiated by each backend's conformance test.
#ifndef LIAISON_BROKER_STORE_STORE_CONFORMANCE_LOG_H_
#define LIAISON_BROKER_STORE_STORE_CONFORMANCE_LOG_H_

#include <gmock/gmock.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/store_conformance.h"

namespace liaison::conformance {

// An override disclosed by `actor_agency` to `counterpart`, with its
// justification's statement, due for review by `review_by`.
inline v1::LogEntry OverrideEntry(const std::string& actor_agency,
                                  const std::string& counterpart,
                                  const std::string& statement, absl::Time at,
                                  absl::Time review_by) {
  v1::LogEntry e =
      Entry(v1::ENTRY_KIND_OVERRIDE, actor_agency, counterpart, at);
  e.set_basis(v1::BASIS_KIND_OVERRIDE);
  v1::Justification* j = e.mutable_justification();
  j->set_category(v1::OVERRIDE_CATEGORY_CHILD_PROTECTION);
  j->set_legal_provision("Act 2001:453 ch. 14 s. 1");
  j->set_statement(statement);
  j->mutable_assessor()->set_id("nurse-7");
  e.set_statement_digest(std::string(64, 'd'));
  *e.mutable_review_by() = Stamp(review_by);
  return e;
}

template <typename Factory>
class StoreLogConformance : public StoreConformance<Factory> {
 protected:
  std::vector<uint64_t> Sequences(LogQuery query) {
    absl::StatusOr<LogPage> page = this->Read(std::move(query));
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<uint64_t> out;
    if (page.ok()) {
      for (const LoggedEntry& e : page->entries) {
        out.push_back(e.entry.sequence());
      }
    }
    return out;
  }
  absl::StatusOr<std::vector<v1::OverrideReview>> Reviews(
      std::optional<std::vector<std::string>> scope, bool include_reviewed) {
    return Await<std::vector<v1::OverrideReview>>([&](auto done) {
      this->store().ListOverrideReviews(scope, include_reviewed, done);
    });
  }
  absl::StatusOr<uint64_t> Review(
      uint64_t sequence, v1::OverrideReview::Outcome outcome,
      std::optional<std::vector<std::string>> scope) {
    OverrideReviewChange change;
    change.override_sequence = sequence;
    change.outcome = outcome;
    change.comment = "checked against the statement";
    change.scope = std::move(scope);
    change.entry.set_kind(v1::ENTRY_KIND_OVERRIDE_REVIEWED);
    change.entry.set_actor("liaison://auditor/dpo");
    change.entry.set_allowed(true);
    *change.entry.mutable_time() = Stamp(this->Now());
    return Await<uint64_t>([&](auto done) {
      this->store().ReviewOverride(std::move(change), done);
    });
  }
};
TYPED_TEST_SUITE_P(StoreLogConformance);

TYPED_TEST_P(StoreLogConformance, AppendReturnsConsecutiveSequences) {
  for (uint64_t i = 0; i < 5; ++i) {
    absl::StatusOr<uint64_t> seq = this->Append(
        Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial, this->Now()));
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, i);
  }
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(log[i].entry.sequence(), i);
    // The leaf is the entry exactly as hashed.
    EXPECT_EQ(log[i].leaf, log[i].entry.SerializeAsString());
  }
}

TYPED_TEST_P(StoreLogConformance, AnAccessToACaseIsAboutTheCasesSubject) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  v1::LogEntry opened;
  opened.set_kind(v1::ENTRY_KIND_ACCESS);
  opened.set_actor(AgencyUri(kSocial));
  opened.set_read_call("GetCase");
  opened.set_case_id("case-1");
  opened.set_allowed(true);
  *opened.mutable_time() = Stamp(this->Now());
  // A case it does not know leaves the subject empty, and is still logged.
  v1::LogEntry unknown = opened;
  unknown.set_case_id("case-unknown");
  // A subject given is kept.
  v1::LogEntry given = opened;
  given.set_subject_pseudonym(std::string(64, 'e'));
  for (const v1::LogEntry* e : {&opened, &unknown, &given}) {
    ASSERT_TRUE(this->RecordAccess(*e).ok());
  }
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[1].entry.subject_pseudonym(), kSubject);
  EXPECT_EQ(log[1].entry.read_call(), "GetCase");
  EXPECT_EQ(log[2].entry.subject_pseudonym(), "");
  EXPECT_EQ(log[3].entry.subject_pseudonym(), std::string(64, 'e'));
  LogQuery about;
  about.subject_pseudonym = kSubject;
  about.kinds = {v1::ENTRY_KIND_ACCESS};
  absl::StatusOr<LogPage> page = this->Read(about);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].entry.sequence(), 1u);
}

TYPED_TEST_P(StoreLogConformance,
             EveryCommitIsCoveredByASignedHeadWhenAnswered) {
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  ASSERT_TRUE(this->Append(AdminEntry("reload_policy", this->Now())).ok());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  RegistryChange change;
  change.agency = Agency(kSocial, "malmo");
  change.entry = AdminEntry("register_agency", this->Now());
  ASSERT_TRUE(this->CommitChange(change).ok());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  ASSERT_TRUE(
      this->RecordConsent(Consent("c1", kSchool, kSubject, false, this->Now()))
          .ok());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  v1::LogEntry delivery =
      Entry(v1::ENTRY_KIND_DELIVERY, kSocial, "", this->Now());
  v1::InboxMessage receipt;
  receipt.set_message_id("receipt-1");
  ASSERT_TRUE(Await<std::string>([&](auto done) {
                this->store().AckMessage(kSocial, "msg-1", this->Now(),
                                         delivery, receipt,
                                         this->Now() + absl::Hours(1), done);
              }).ok());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  EXPECT_EQ(this->LogSize(), 5u);
}

TYPED_TEST_P(StoreLogConformance, OverrideStatementIsSealedOutsideTheLog) {
  const std::string statement = "the child said she is afraid to go home";
  v1::LogEntry e = OverrideEntry(kClinic, kSocial, statement, this->Now(),
                                 this->Now() + absl::Hours(24 * 30));
  absl::StatusOr<uint64_t> seq = this->Append(e);
  ASSERT_TRUE(seq.ok()) << seq.status();
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 1u);
  const v1::LogEntry& logged = log[0].entry;
  EXPECT_TRUE(logged.justification().statement().empty());
  EXPECT_EQ(log[0].leaf.find(statement), std::string::npos);
  EXPECT_EQ(logged.statement_digest(), e.statement_digest());
  EXPECT_EQ(logged.justification().legal_provision(),
            e.justification().legal_provision());
  // The reviewer reads it with the review queue.
  absl::StatusOr<std::vector<v1::OverrideReview>> queue =
      this->Reviews(std::nullopt, false);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_EQ(queue->size(), 1u);
  EXPECT_EQ((*queue)[0].log_sequence(), *seq);
  EXPECT_EQ((*queue)[0].statement(), statement);
  EXPECT_TRUE((*queue)[0].entry().justification().statement().empty());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
}

TYPED_TEST_P(StoreLogConformance,
             OverrideStatementIsSealedInEveryWriteThatAppends) {
  const absl::Time t = this->Now();
  NewReferral r = Referral("1", kClinic, kSocial, t);
  v1::LogEntry with_statement = OverrideEntry(
      kClinic, kSocial, "statement in a referral", t, t + absl::Hours(24));
  with_statement.set_case_id(r.disclosure.case_id());
  with_statement.set_message_id(r.disclosure.message_id());
  r.disclosure = with_statement;
  ASSERT_TRUE(this->Refer(r).ok());
  ManualDisclosure d;
  d.agency_id = kClinic;
  d.idempotency_key = "manual-1";
  d.request_digest = "digest-1";
  d.entry = OverrideEntry(kClinic, kPolice, "statement at a case conference", t,
                          t + absl::Hours(24));
  d.entry.set_kind(v1::ENTRY_KIND_MANUAL_DISCLOSURE);
  d.entry.set_statement_digest(std::string(64, 'e'));
  ASSERT_TRUE(Await<uint64_t>([&](auto done) {
                this->store().RecordManualDisclosure(d, done);
              }).ok());
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 2u);
  for (const LoggedEntry& e : log) {
    EXPECT_TRUE(e.entry.justification().statement().empty());
    EXPECT_EQ(e.leaf.find("statement"), std::string::npos);
  }
  absl::StatusOr<std::vector<v1::OverrideReview>> queue =
      this->Reviews(std::nullopt, false);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_GE(queue->size(), 1u);
  EXPECT_EQ((*queue)[0].statement(), "statement in a referral");
}

TYPED_TEST_P(StoreLogConformance, ReadLogFiltersBySubjectKindBasisAndDecision) {
  const absl::Time t = this->Now();
  v1::LogEntry consent = Entry(v1::ENTRY_KIND_DISCLOSURE, kSchool, kSocial, t);
  consent.set_basis(v1::BASIS_KIND_CONSENT);
  v1::LogEntry other = Entry(v1::ENTRY_KIND_DISCLOSURE, kSchool, kSocial, t);
  other.set_subject_pseudonym(kOtherSubject);
  other.set_basis(v1::BASIS_KIND_STATUTORY_DUTY);
  v1::LogEntry denial = Entry(v1::ENTRY_KIND_DENIAL, kSchool, kPolice, t);
  v1::LogEntry consented =
      Entry(v1::ENTRY_KIND_CONSENT_RECORDED, kClinic, "", t);
  for (const v1::LogEntry& e : {consent, other, denial, consented}) {
    ASSERT_TRUE(this->Append(e).ok());
  }
  LogQuery subject;
  subject.subject_pseudonym = kOtherSubject;
  EXPECT_EQ(this->Sequences(subject), (std::vector<uint64_t>{1}));
  LogQuery kinds;
  kinds.kinds = {v1::ENTRY_KIND_DENIAL, v1::ENTRY_KIND_CONSENT_RECORDED};
  EXPECT_EQ(this->Sequences(kinds), (std::vector<uint64_t>{2, 3}));
  LogQuery bases;
  bases.bases = {v1::BASIS_KIND_CONSENT, v1::BASIS_KIND_STATUTORY_DUTY};
  EXPECT_EQ(this->Sequences(bases), (std::vector<uint64_t>{0, 1}));
  LogQuery denied;
  denied.allowed = false;
  EXPECT_EQ(this->Sequences(denied), (std::vector<uint64_t>{2}));
  LogQuery allowed;
  allowed.allowed = true;
  allowed.subject_pseudonym = kSubject;
  EXPECT_EQ(this->Sequences(allowed), (std::vector<uint64_t>{0, 3}));
}

TYPED_TEST_P(StoreLogConformance,
             ReadLogAgencySetsMustEachMatchAndAnEmptyOneMatchesNothing) {
  const absl::Time t = this->Now();
  ASSERT_TRUE(
      this->Append(Entry(v1::ENTRY_KIND_DISCLOSURE, kSchool, kSocial, t)).ok());
  ASSERT_TRUE(
      this->Append(Entry(v1::ENTRY_KIND_DISCLOSURE, kPolice, kClinic, t)).ok());
  ASSERT_TRUE(
      this->Append(Entry(v1::ENTRY_KIND_DISCLOSURE, kClinic, kSchool, t)).ok());
  LogQuery one;
  one.agency_sets = {{kSchool}};  // as actor or as counterpart
  EXPECT_EQ(this->Sequences(one), (std::vector<uint64_t>{0, 2}));
  LogQuery both;
  both.agency_sets = {{kSchool, kPolice}, {kClinic}};
  EXPECT_EQ(this->Sequences(both), (std::vector<uint64_t>{1, 2}));
  LogQuery empty;
  empty.agency_sets = {{kSchool, kSocial, kPolice, kClinic}, {}};
  EXPECT_TRUE(this->Sequences(empty).empty());
}

TYPED_TEST_P(StoreLogConformance, ReadLogWindowsByTimeAndSequence) {
  const absl::Time t = this->Now();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial,
                                   t + absl::Hours(i)))
                    .ok());
  }
  LogQuery window;
  window.from = t + absl::Minutes(90);
  window.until = t + absl::Minutes(270);
  EXPECT_EQ(this->Sequences(window), (std::vector<uint64_t>{2, 3, 4}));
  LogQuery range;
  range.first_sequence = 1;
  range.below = 4;
  EXPECT_EQ(this->Sequences(range), (std::vector<uint64_t>{1, 2, 3}));
}

TYPED_TEST_P(StoreLogConformance, ReadLogLimitSaysWhenMoreMatch) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial,
                                   this->Now()))
                    .ok());
  }
  LogQuery first;
  first.limit = 2;
  absl::StatusOr<LogPage> page = this->Read(first);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[1].entry.sequence(), 1u);
  EXPECT_TRUE(page->more);
  LogQuery last;
  last.first_sequence = 3;
  last.limit = 2;
  page = this->Read(last);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].entry.sequence(), 3u);
  EXPECT_FALSE(page->more);
}

TYPED_TEST_P(StoreLogConformance, ReadLogProofsVerifyAgainstTheHead) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial,
                                   this->Now()))
                    .ok());
  }
  absl::StatusOr<v1::TreeHead> head = this->Head();
  ASSERT_TRUE(head.ok()) << head.status();
  LogQuery query;
  query.first_sequence = 2;
  query.below = head->tree_size();
  query.with_proofs = true;
  query.proof_size = head->tree_size();
  absl::StatusOr<LogPage> page = this->Read(query);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 5u);
  for (const LoggedEntry& e : page->entries) {
    EXPECT_TRUE(merkle::VerifyInclusion(e.entry.sequence(), head->tree_size(),
                                        merkle::LeafHash(e.leaf), e.proof,
                                        head->root_hash())
                    .ok())
        << e.entry.sequence();
  }
}

TYPED_TEST_P(StoreLogConformance, InclusionProofsVerifyAndStayInsideTheLog) {
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial,
                                   this->Now()))
                    .ok());
  }
  absl::StatusOr<v1::TreeHead> head = this->Head();
  ASSERT_TRUE(head.ok());
  std::vector<LoggedEntry> log = this->Entries();
  for (uint64_t i = 0; i < log.size(); ++i) {
    absl::StatusOr<v1::InclusionProof> proof = Await<v1::InclusionProof>(
        [&](auto done) { this->store().ProveInclusion(i, 9, done); });
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(proof->leaf_index(), i);
    EXPECT_EQ(proof->tree_size(), 9u);
    std::vector<std::string> hashes(proof->hashes().begin(),
                                    proof->hashes().end());
    EXPECT_TRUE(merkle::VerifyInclusion(i, 9, merkle::LeafHash(log[i].leaf),
                                        hashes, head->root_hash())
                    .ok())
        << i;
  }
  for (const auto& [sequence, size] :
       std::vector<std::pair<uint64_t, uint64_t>>{{9, 9}, {3, 10}, {2, 2}}) {
    EXPECT_EQ(Await<v1::InclusionProof>([&](auto done) {
                this->store().ProveInclusion(sequence, size, done);
              })
                  .status()
                  .code(),
              absl::StatusCode::kOutOfRange)
        << sequence << " in " << size;
  }
}

TYPED_TEST_P(StoreLogConformance, ConsistencyProofsVerifyAndStayInsideTheLog) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial,
                                   this->Now()))
                    .ok());
  }
  absl::StatusOr<v1::TreeHead> older = this->Head();
  ASSERT_TRUE(older.ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial,
                                   this->Now()))
                    .ok());
  }
  absl::StatusOr<v1::TreeHead> newer = this->Head();
  ASSERT_TRUE(newer.ok());
  ASSERT_EQ(older->tree_size(), 3u);
  ASSERT_EQ(newer->tree_size(), 8u);
  absl::StatusOr<v1::ConsistencyProof> proof = Await<v1::ConsistencyProof>(
      [&](auto done) { this->store().ProveConsistency(3, 8, done); });
  ASSERT_TRUE(proof.ok()) << proof.status();
  std::vector<std::string> hashes(proof->hashes().begin(),
                                  proof->hashes().end());
  EXPECT_TRUE(merkle::VerifyConsistency(3, 8, older->root_hash(),
                                        newer->root_hash(), hashes)
                  .ok());
  for (const auto& [first, second] :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 8}, {5, 4}, {3, 9}}) {
    EXPECT_EQ(Await<v1::ConsistencyProof>([&](auto done) {
                this->store().ProveConsistency(first, second, done);
              })
                  .status()
                  .code(),
              absl::StatusCode::kOutOfRange)
        << first << " to " << second;
  }
}

TYPED_TEST_P(StoreLogConformance,
             OverrideReviewIsFoundOnlyForOverridesInScope) {
  ASSERT_TRUE(this->Append(Entry(v1::ENTRY_KIND_DISCLOSURE, kClinic, kSocial,
                                 this->Now()))
                  .ok());
  absl::StatusOr<uint64_t> seq =
      this->Append(OverrideEntry(kClinic, kSocial, "risk to life", this->Now(),
                                 this->Now() + absl::Hours(24)));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(this->Review(0, v1::OverrideReview::OUTCOME_JUSTIFIED, std::nullopt)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->Review(*seq, v1::OverrideReview::OUTCOME_JUSTIFIED,
                         std::vector<std::string>{kPolice})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->Review(*seq + 1, v1::OverrideReview::OUTCOME_JUSTIFIED,
                         std::nullopt)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(this->Reviews(std::vector<std::string>{kPolice}, true)->empty());
  EXPECT_EQ(this->LogSize(), 2u);
}

// The recipient's auditor knows the override exists but does not judge it:
// that belongs to auditors of the agency whose data left.
TYPED_TEST_P(StoreLogConformance, OnlyTheDisclosingAgencysScopeReviews) {
  absl::StatusOr<uint64_t> seq =
      this->Append(OverrideEntry(kClinic, kSocial, "risk to life", this->Now(),
                                 this->Now() + absl::Hours(24)));
  ASSERT_TRUE(seq.ok());
  absl::StatusOr<uint64_t> review =
      this->Review(*seq, v1::OverrideReview::OUTCOME_JUSTIFIED,
                   std::vector<std::string>{kSocial});
  EXPECT_EQ(review.status().code(), absl::StatusCode::kPermissionDenied)
      << review.status();
  EXPECT_NE(review.status().message().find(kClinic), std::string::npos)
      << review.status();
  EXPECT_EQ(this->LogSize(), 1u);
  absl::StatusOr<std::vector<v1::OverrideReview>> recipient_queue =
      this->Reviews(std::vector<std::string>{kSocial}, true);
  ASSERT_TRUE(recipient_queue.ok());
  EXPECT_TRUE(recipient_queue->empty());
  absl::StatusOr<std::vector<v1::OverrideReview>> discloser_queue =
      this->Reviews(std::vector<std::string>{kClinic}, false);
  ASSERT_TRUE(discloser_queue.ok());
  EXPECT_EQ(discloser_queue->size(), 1u);
}

TYPED_TEST_P(StoreLogConformance, OverrideIsReviewedToAFinalOutcomeOnce) {
  absl::StatusOr<uint64_t> seq =
      this->Append(OverrideEntry(kClinic, kSocial, "risk to life", this->Now(),
                                 this->Now() + absl::Hours(24)));
  ASSERT_TRUE(seq.ok());
  const std::vector<std::string> scope = {kClinic};
  absl::StatusOr<uint64_t> follow_up =
      this->Review(*seq, v1::OverrideReview::OUTCOME_NEEDS_FOLLOW_UP, scope);
  ASSERT_TRUE(follow_up.ok()) << follow_up.status();
  EXPECT_EQ(*follow_up, 1u);
  EXPECT_EQ(this->Reviews(scope, false)->size(), 1u);
  absl::StatusOr<uint64_t> justified =
      this->Review(*seq, v1::OverrideReview::OUTCOME_JUSTIFIED, scope);
  ASSERT_TRUE(justified.ok()) << justified.status();
  EXPECT_EQ(*justified, 2u);
  EXPECT_TRUE(this->Reviews(scope, false)->empty());
  absl::StatusOr<std::vector<v1::OverrideReview>> all =
      this->Reviews(std::nullopt, true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].outcome(), v1::OverrideReview::OUTCOME_JUSTIFIED);
  EXPECT_EQ((*all)[0].reviewer(), "liaison://auditor/dpo");
  EXPECT_EQ(this->Review(*seq, v1::OverrideReview::OUTCOME_NOT_JUSTIFIED,
                         std::nullopt)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  std::vector<LoggedEntry> log = this->Entries();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2].entry.kind(), v1::ENTRY_KIND_OVERRIDE_REVIEWED);
}

TYPED_TEST_P(StoreLogConformance, OverdueOverrideReviewIsEscalatedOnce) {
  const absl::Time t = this->Now();
  absl::StatusOr<uint64_t> due = this->Append(
      OverrideEntry(kClinic, kSocial, "a", t, t + absl::Hours(24)));
  absl::StatusOr<uint64_t> reviewed = this->Append(
      OverrideEntry(kPolice, kSocial, "b", t, t + absl::Hours(24)));
  ASSERT_TRUE(due.ok() && reviewed.ok());
  ASSERT_TRUE(this->Review(*reviewed, v1::OverrideReview::OUTCOME_JUSTIFIED,
                           std::nullopt)
                  .ok());
  auto sweep = [&](absl::Time at) {
    return Await<std::vector<std::string>>([&](auto done) {
      this->store().EscalateOverdueReviews(at, absl::Hours(120), 10, done);
    });
  };
  EXPECT_TRUE(sweep(t + absl::Hours(24) - absl::Seconds(1))->empty());
  absl::StatusOr<std::vector<std::string>> told = sweep(t + absl::Hours(24));
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(*told, std::vector<std::string>{kClinic});
  EXPECT_TRUE(sweep(t + absl::Hours(48))->empty());
  absl::StatusOr<InboxLease> inbox =
      this->Lease(kClinic, t + absl::Hours(48), absl::Seconds(1), 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->messages.size(), 1u);
  EXPECT_EQ(inbox->messages[0].notice().kind(),
            v1::Notice::KIND_OVERRIDE_REVIEW_OVERDUE);
  EXPECT_EQ(inbox->messages[0].notice().log_sequence(), *due);
  EXPECT_TRUE(this->Lease(kPolice, t + absl::Hours(48), absl::Seconds(1), 10)
                  ->messages.empty());
}

TYPED_TEST_P(StoreLogConformance, FailedCommitsLeaveNoEntryNoMessageAndNoHead) {
  ASSERT_TRUE(this->Refer(Referral("1", kSchool, kSocial, this->Now())).ok());
  absl::StatusOr<v1::TreeHead> head = this->Head();
  ASSERT_TRUE(head.ok());
  NewReferral reused = Referral("2", kSchool, kPolice, this->Now());
  reused.idempotency_key = "key-1";
  EXPECT_EQ(this->Refer(reused).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(this->Refer(JoiningReferral("3", kSchool, kPolice, "no-case",
                                        this->Now()))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->Review(0, v1::OverrideReview::OUTCOME_JUSTIFIED, std::nullopt)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->LogSize(), 1u);
  absl::StatusOr<v1::TreeHead> after = this->Head();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->tree_size(), head->tree_size());
  EXPECT_EQ(after->root_hash(), head->root_hash());
  EXPECT_TRUE(this->Inbox(kPolice).empty());
}

TYPED_TEST_P(StoreLogConformance,
             ConcurrentCommitsAreAllAnsweredWithGapFreeSequences) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  absl::Mutex mu;
  std::vector<uint64_t> sequences;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  const absl::Time t = this->Now();
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string n = std::to_string(w) + "-" + std::to_string(i);
        absl::StatusOr<uint64_t> seq = absl::UnknownError("not run");
        if (i % 2 == 0) {
          seq = this->Append(Entry(v1::ENTRY_KIND_DENIAL, kSchool, kSocial, t));
        } else {
          absl::StatusOr<v1::SendReferralResponse> sent =
              this->Refer(Referral(n, kSchool, kSocial, t));
          seq = sent.ok() ? absl::StatusOr<uint64_t>(sent->log_sequence())
                          : sent.status();
        }
        absl::MutexLock lock(&mu);
        if (seq.ok()) {
          sequences.push_back(*seq);
        } else {
          errors.push_back(seq.status().ToString());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(errors, ::testing::IsEmpty());
  std::sort(sequences.begin(), sequences.end());
  ASSERT_EQ(sequences.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i);
  EXPECT_EQ(this->LogSize(), sequences.size());
  EXPECT_TRUE(this->HeadCoversLog().ok()) << this->HeadCoversLog();
  EXPECT_EQ(this->Inbox(kSocial).size(), size_t{kThreads * kPerThread / 2});
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreLogConformance, AppendReturnsConsecutiveSequences,
    AnAccessToACaseIsAboutTheCasesSubject,
    EveryCommitIsCoveredByASignedHeadWhenAnswered,
    OverrideStatementIsSealedOutsideTheLog,
    OverrideStatementIsSealedInEveryWriteThatAppends,
    ReadLogFiltersBySubjectKindBasisAndDecision,
    ReadLogAgencySetsMustEachMatchAndAnEmptyOneMatchesNothing,
    ReadLogWindowsByTimeAndSequence, ReadLogLimitSaysWhenMoreMatch,
    ReadLogProofsVerifyAgainstTheHead, InclusionProofsVerifyAndStayInsideTheLog,
    ConsistencyProofsVerifyAndStayInsideTheLog,
    OverrideReviewIsFoundOnlyForOverridesInScope,
    OnlyTheDisclosingAgencysScopeReviews, OverrideIsReviewedToAFinalOutcomeOnce,
    OverdueOverrideReviewIsEscalatedOnce,
    FailedCommitsLeaveNoEntryNoMessageAndNoHead,
    ConcurrentCommitsAreAllAnsweredWithGapFreeSequences);

}  // namespace liaison::conformance

#endif  // LIAISON_BROKER_STORE_STORE_CONFORMANCE_LOG_H_
