// The conformance suite of the Store interface (store.h; DESIGN.md section
// 7): every contract store.h states, tested through the interface alone, so
// each backend runs the same tests. A backend instantiates the suites of
// store_conformance_*.h in its own test with its factory (described below)
// and passes them unchanged; what only one backend does is tested beside
// it, not here.
//
// The store under test runs with the broker's own rules (StoreRules), as
// the broker opens it: tests that depend on what the rules decide (the
// lifecycle moves, the notices' kinds) follow broker/domain_rules.h.
#ifndef LIAISON_BROKER_STORE_STORE_CONFORMANCE_H_
#define LIAISON_BROKER_STORE_STORE_CONFORMANCE_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "broker/basics/clock.h"
#include "broker/log/merkle.h"
#include "broker/log/tree_head.h"
#include "broker/store/store.h"

namespace liaison::conformance {

// What a factory is given to open a store with.
struct StoreSetup {
  // A directory that belongs to this test alone; empty at the first Open.
  std::string dir;
  // Must sign a head in every commit that appends to the log.
  const LogSigner* signer = nullptr;
  // Must stamp the signed heads.
  const Clock* clock = nullptr;
};

// A backend's factory, the suites' type parameter, is a type with
//
//   static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreSetup&);
//
// which opens the store kept for `setup.dir` with the broker's rules,
// creating it empty the first time. Called again with the same setup after
// the previous store was destroyed, it must open the same durable state:
// that is how the suites test durability.

// A clock the tests move by hand. Thread-safe: the store reads it on its
// own thread.
class TestClock final : public Clock {
 public:
  explicit TestClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Runs one asynchronous store call, which receives the StoreDone<T> to
// answer, and waits for its answer.
template <typename T, typename Call>
absl::StatusOr<T> Await(Call&& call) {
  absl::Notification answered;
  absl::StatusOr<T> result = absl::UnknownError("the store never answered");
  call(StoreDone<T>([&](absl::StatusOr<T> r) {
    result = std::move(r);
    answered.Notify();
  }));
  answered.WaitForNotification();
  return result;
}

// The agencies the suites use, by registry id, and the sectors in their
// principal URIs.
inline const std::string kSchool = "school";
inline const std::string kSocial = "social";
inline const std::string kPolice = "police";
inline const std::string kClinic = "clinic";

inline std::string SectorOf(const std::string& id) {
  static const auto* const sectors =
      new std::map<std::string, std::string>{{kSchool, "education"},
                                             {kSocial, "social_care"},
                                             {kPolice, "police"},
                                             {kClinic, "health"}};
  auto it = sectors->find(id);
  return it == sectors->end() ? "health" : it->second;
}

inline std::string AgencyUri(const std::string& id) {
  return "liaison://agency/" + SectorOf(id) + "/" + id;
}

// Keyed pseudonyms of two people, as the log holds subjects.
inline const std::string kSubject(64, 'a');
inline const std::string kOtherSubject(64, 'b');

// Where every test's time starts.
inline absl::Time StartTime() { return absl::FromUnixSeconds(1800000000); }

inline google::protobuf::Timestamp Stamp(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

inline v1::LogEntry Entry(v1::EntryKind kind, const std::string& actor_agency,
                          const std::string& counterpart, absl::Time at) {
  v1::LogEntry e;
  e.set_kind(kind);
  e.set_actor(AgencyUri(actor_agency));
  e.set_counterpart(counterpart);
  *e.mutable_time() = Stamp(at);
  e.set_subject_pseudonym(kSubject);
  e.set_allowed(kind != v1::ENTRY_KIND_DENIAL);
  return e;
}

inline v1::Agency Agency(const std::string& id, const std::string& area) {
  v1::Agency a;
  a.set_id(id);
  a.set_sector(SectorOf(id));
  a.set_jurisdiction("se");
  a.set_area(area);
  a.set_display_name(id + " in " + area);
  a.set_public_authority(true);
  a.set_privacy_officer_contact("dpo@" + id + ".example");
  a.set_status(v1::AGENCY_STATUS_ACTIVE);
  a.add_certificate_serials("0A" + id.substr(0, 2));
  return a;
}

inline v1::Route Route(const std::string& sector, const std::string& area,
                       const std::string& agency_id) {
  v1::Route r;
  r.set_sector(sector);
  r.set_area(area);
  r.set_agency_id(agency_id);
  return r;
}

// An ADMIN entry as the admin service writes one.
inline v1::LogEntry AdminEntry(const std::string& action, absl::Time at) {
  v1::LogEntry e;
  e.set_kind(v1::ENTRY_KIND_ADMIN);
  e.set_actor("liaison://admin/root");
  e.set_admin_action(action);
  e.set_allowed(true);
  *e.mutable_time() = Stamp(at);
  return e;
}

// A referral from `sender` to `recipient` that opens case "case-<n>", as
// the Exchange service commits one; `n` makes its ids, idempotency key and
// digest unique.
inline NewReferral Referral(const std::string& n, const std::string& sender,
                            const std::string& recipient, absl::Time at) {
  NewReferral r;
  r.sender_agency_id = sender;
  r.idempotency_key = "key-" + n;
  r.request_digest = "digest-" + n;
  r.opens_case = true;
  v1::Referral& ref = r.referral;
  ref.set_referral_id("ref-" + n);
  ref.set_case_id("case-" + n);
  ref.set_sender_agency_id(sender);
  ref.set_recipient_agency_id(recipient);
  ref.set_status(v1::REFERRAL_STATUS_SENT);
  ref.set_urgency(v1::URGENCY_ROUTINE);
  ref.add_concerns(v1::CONCERN_CATEGORY_NEGLECT);
  v1::ReferralEvent* sent = ref.add_history();
  sent->set_status(v1::REFERRAL_STATUS_SENT);
  *sent->mutable_at() = Stamp(at);
  sent->set_by_agency_id(sender);
  r.delivery.set_message_id("msg-" + n);
  *r.delivery.mutable_enqueued_at() = Stamp(at);
  *r.delivery.mutable_referral() = ref;
  r.disclosure = Entry(v1::ENTRY_KIND_DISCLOSURE, sender, recipient, at);
  r.disclosure.set_case_id(ref.case_id());
  r.disclosure.set_message_id(ref.referral_id());
  r.disclosure.set_basis(v1::BASIS_KIND_STATUTORY_DUTY);
  r.disclosure.set_level(v1::LEVEL_SUMMARY);
  r.expires_at = at + absl::Hours(120);
  r.response.set_referral_id(ref.referral_id());
  r.response.set_case_id(ref.case_id());
  r.response.set_recipient_agency_id(recipient);
  r.response.set_level(v1::LEVEL_SUMMARY);
  r.response.set_policy_version("policy-1");
  return r;
}

// The same referral joining the existing case `case_id` instead.
inline NewReferral JoiningReferral(const std::string& n,
                                   const std::string& sender,
                                   const std::string& recipient,
                                   const std::string& case_id, absl::Time at) {
  NewReferral r = Referral(n, sender, recipient, at);
  r.opens_case = false;
  r.referral.set_case_id(case_id);
  *r.delivery.mutable_referral() = r.referral;
  r.disclosure.set_case_id(case_id);
  r.response.set_case_id(case_id);
  return r;
}

// Makes `r` a disclosure under consent `consent_id`.
inline void UnderConsent(const std::string& consent_id, NewReferral* r) {
  r->referral.set_consent_id(consent_id);
  *r->delivery.mutable_referral() = r->referral;
  r->disclosure.set_basis(v1::BASIS_KIND_CONSENT);
  r->disclosure.set_consent_id(consent_id);
}

// A consent (or with `refused` a refusal) about `subject` recorded by
// `agency`, with its entry.
inline NewConsent Consent(const std::string& id, const std::string& agency,
                          const std::string& subject, bool refused,
                          absl::Time at) {
  NewConsent c;
  c.agency_id = agency;
  c.idempotency_key = "consent-key-" + id;
  c.request_digest = "consent-digest-" + id;
  c.consent.set_consent_id(id);
  c.consent.set_recorded_by_agency_id(agency);
  c.consent.set_grantor(v1::GRANTOR_SUBJECT);
  c.consent.mutable_subject()->set_identifier("person-" + subject.substr(0, 1));
  c.consent.add_disclosing()->set_agency_id(agency);
  c.consent.add_recipients()->set_sector("social_care");
  c.consent.add_purposes("child_protection");
  c.consent.set_max_level(v1::LEVEL_SUMMARY);
  *c.consent.mutable_valid_from() = Stamp(at);
  c.consent.set_refused(refused);
  c.subject_pseudonym = subject;
  c.entry = Entry(refused ? v1::ENTRY_KIND_CONSENT_REFUSED
                          : v1::ENTRY_KIND_CONSENT_RECORDED,
                  agency, "", at);
  c.entry.set_subject_pseudonym(subject);
  c.entry.set_consent_id(id);
  return c;
}

// Hashes of perfect subtrees computed from the leaves themselves, to check
// a signed root against the entries the store returns.
class LeafNodes final : public merkle::NodeReader {
 public:
  explicit LeafNodes(std::vector<std::string> leaves)
      : leaves_(std::move(leaves)) {}
  absl::StatusOr<std::string> Node(int level, uint64_t index) const override {
    if (level == 0) {
      if (index >= leaves_.size()) return absl::OutOfRangeError("no leaf");
      return merkle::LeafHash(leaves_[index]);
    }
    absl::StatusOr<std::string> left = Node(level - 1, 2 * index);
    absl::StatusOr<std::string> right = Node(level - 1, 2 * index + 1);
    if (!left.ok()) return left.status();
    if (!right.ok()) return right.status();
    return merkle::NodeHash(*left, *right);
  }

 private:
  std::vector<std::string> leaves_;
};

// Every suite's fixture: a fresh store per test, opened by `Factory`, with
// a signer and a clock the test controls.
template <typename Factory>
class StoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "/conformanceXXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    absl::StatusOr<LogSigner> signer =
        LogSigner::LoadOrCreate(dir + "/log.key", dir + "/log.pub");
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = std::make_unique<LogSigner>(*std::move(signer));
    setup_.dir = dir + "/store";
    ASSERT_EQ(mkdir(setup_.dir.c_str(), 0700), 0);
    setup_.signer = signer_.get();
    setup_.clock = &clock_;
    Reopen();
  }

  // Closes the store and opens it again from its durable state.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store = Factory::Open(setup_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  Store& store() { return *store_; }
  absl::Time Now() const { return clock_.Now(); }
  const std::string& PublicKey() const { return signer_->public_key(); }

  absl::StatusOr<uint64_t> CommitChange(RegistryChange change) {
    return Await<uint64_t>([&](auto done) {
      store().CommitRegistryChange(std::move(change), done);
    });
  }
  absl::StatusOr<uint64_t> Append(v1::LogEntry entry) {
    return Await<uint64_t>(
        [&](auto done) { store_->AppendLog(std::move(entry), done); });
  }
  absl::StatusOr<uint64_t> RecordAccess(v1::LogEntry entry) {
    return Await<uint64_t>(
        [&](auto done) { store_->RecordAccess(std::move(entry), done); });
  }
  absl::StatusOr<v1::SendReferralResponse> Refer(NewReferral referral) {
    return Await<v1::SendReferralResponse>(
        [&](auto done) { store_->CommitReferral(std::move(referral), done); });
  }
  // `agency` takes back `referral_id`, as a misdirected referral.
  absl::StatusOr<TakenBack> TakeBack(const std::string& agency,
                                     const std::string& referral_id) {
    ReferralTakeBack take_back;
    take_back.agency_id = agency;
    take_back.referral_id = referral_id;
    take_back.reason = v1::RECALL_REASON_WRONG_RECIPIENT;
    take_back.at = Now();
    take_back.entry = Entry(v1::ENTRY_KIND_UNSPECIFIED, agency, "", Now());
    take_back.notice_expires_at = Now() + absl::Hours(120);
    return Await<TakenBack>([&](auto done) {
      store_->TakeBackReferral(std::move(take_back), done);
    });
  }
  absl::StatusOr<v1::Referral> GetReferral(const std::string& agency,
                                           const std::string& referral_id) {
    return Await<v1::Referral>(
        [&](auto done) { store_->GetReferral(agency, referral_id, done); });
  }
  absl::StatusOr<v1::Case> GetCase(const std::string& agency,
                                   const std::string& case_id) {
    return Await<v1::Case>(
        [&](auto done) { store_->GetCase(agency, case_id, done); });
  }
  // Purges, with every kind held for `agencies` due by `cutoff`.
  absl::StatusOr<PurgeCounts> PurgeFor(const std::vector<std::string>& agencies,
                                       absl::Time cutoff) {
    PurgeRequest request;
    for (const std::string& a : agencies) {
      PurgeCutoffs& cut = request.by_agency[a];
      for (absl::Time& t : cut.at) t = cutoff;
    }
    request.entry.set_kind(v1::ENTRY_KIND_PURGE);
    request.entry.set_actor("liaison://broker/sweeper/retention");
    *request.entry.mutable_time() = Stamp(Now());
    return Await<PurgeCounts>(
        [&](auto done) { store().Purge(std::move(request), done); });
  }

  absl::StatusOr<v1::Consent> RecordConsent(NewConsent consent) {
    return Await<v1::Consent>(
        [&](auto done) { store_->RecordConsent(std::move(consent), done); });
  }
  absl::StatusOr<InboxLease> Lease(const std::string& agency, absl::Time at,
                                   absl::Duration lease, int max) {
    return Await<InboxLease>(
        [&](auto done) { store_->LeaseInbox(agency, at, lease, max, done); });
  }
  // The messages `agency` can receive now. Leases them for a second and
  // moves the clock past that lease, so the next look sees them again.
  std::vector<v1::InboxMessage> Inbox(const std::string& agency) {
    absl::StatusOr<InboxLease> lease =
        Lease(agency, clock_.Now(), absl::Seconds(1), 1000);
    EXPECT_TRUE(lease.ok()) << lease.status();
    clock_.Advance(absl::Seconds(1));
    return lease.ok() ? lease->messages : std::vector<v1::InboxMessage>();
  }
  absl::StatusOr<v1::TreeHead> Head() {
    return Await<v1::TreeHead>(
        [&](auto done) { store_->LatestTreeHead(done); });
  }
  absl::StatusOr<LogPage> Read(LogQuery query) {
    return Await<LogPage>(
        [&](auto done) { store_->ReadLog(std::move(query), done); });
  }
  // Every entry in the log, oldest first.
  std::vector<LoggedEntry> Entries() {
    LogQuery all;
    all.limit = 100000;
    absl::StatusOr<LogPage> page = Read(all);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->entries : std::vector<LoggedEntry>();
  }
  uint64_t LogSize() { return Entries().size(); }

  // OK when the latest head covers the whole log, is signed by the test's
  // signer and its root is the root of the entries the log returns.
  absl::Status HeadCoversLog() {
    absl::StatusOr<v1::TreeHead> head = Head();
    if (!head.ok()) return head.status();
    std::vector<std::string> leaves;
    for (const LoggedEntry& e : Entries()) leaves.push_back(e.leaf);
    if (head->tree_size() != leaves.size()) {
      return absl::FailedPreconditionError(
          "head of size " + std::to_string(head->tree_size()) + " for " +
          std::to_string(leaves.size()) + " entries");
    }
    if (absl::Status s = VerifyTreeHead(*head, PublicKey()); !s.ok()) return s;
    absl::StatusOr<std::string> root =
        leaves.empty() ? merkle::EmptyRoot()
                       : merkle::Root(LeafNodes(leaves), leaves.size());
    if (!root.ok()) return root.status();
    if (*root != head->root_hash()) {
      return absl::FailedPreconditionError("signed root is not the leaves'");
    }
    return absl::OkStatus();
  }

  TestClock clock_{StartTime()};
  std::unique_ptr<LogSigner> signer_;
  StoreSetup setup_;
  std::unique_ptr<Store> store_;
};

}  // namespace liaison::conformance

#endif  // LIAISON_BROKER_STORE_STORE_CONFORMANCE_H_
