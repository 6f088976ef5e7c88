// Several brokers over one PostgreSQL database (DESIGN.md section 7), as an
// operator runs them: three real broker processes sharing a throw-away
// server, the deployment's keys and one disclosure log, and agency systems
// calling whichever broker they like over mutual TLS.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "broker/log/merkle.h"
#include "broker/log/tree_head.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "liaison/v1/identity.grpc.pb.h"
#include "tests/common/pg_cluster.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies {
    id: "malmo-hospital"
    sector: "health"
    jurisdiction: "se"
    area: "malmo"
  }
  agencies {
    id: "malmo-social"
    sector: "social_care"
    jurisdiction: "se"
    area: "malmo"
  }
  auditors { id: "dpo" scope: "*" }
)pb";

constexpr int kBrokers = 3;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PgCluster>> server =
        PgCluster::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(server_->CreateDatabase("liaison").ok());
    deployment_.WriteRegistry(kRegistry);
    deployment_.AppendConfig(absl::StrCat("store { postgres { conninfo: \"",
                                          server_->FailoverConninfo("liaison"),
                                          "\" } }"));
    health_ =
        deployment_.Issue({"agency", "--sector=health", "--id=malmo-hospital"});
    social_ = deployment_.Issue(
        {"agency", "--sector=social_care", "--id=malmo-social"});
    dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
    // The first broker makes the deployment's keys in the shared data_dir
    // and migrates the database; the others start on them.
    for (int i = 0; i < kBrokers; ++i) {
      brokers_.push_back(std::make_unique<BrokerProcess>(
          deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"}));
      ASSERT_GT(brokers_.back()->port(), 0) << brokers_.back()->Output();
    }
  }

  // The policy version broker `broker` reports to `admin`; empty if it
  // cannot be asked.
  std::string PolicyVersion(int broker, const Credentials& admin) {
    v1::BrokerStatus status;
    grpc::ClientContext ctx;
    v1::Admin::NewStub(Channel(broker, admin))
        ->GetStatus(&ctx, v1::GetStatusRequest(), &status)
        .IgnoreError();
    return status.policy_version();
  }
  // Changes the deployment's agreements file: one consent level lower.
  void LowerAConsentLevel() {
    std::ifstream in(deployment_.policy_dir() + "/agreements.textproto");
    std::stringstream text;
    text << in.rdbuf();
    std::string agreements = text.str();
    const std::string from = "consent_max_level: LEVEL_CATEGORY";
    const size_t at = agreements.find(from);
    ASSERT_NE(at, std::string::npos);
    agreements.replace(at, from.size(), "consent_max_level: LEVEL_SIGNAL");
    deployment_.WritePolicyFile("agreements.textproto", agreements);
  }
  // Asks broker 1 to reload the policy, as `admin`.
  void ReloadPolicyThroughTheFirst(const Credentials& admin,
                                   v1::ReloadResponse* reloaded) {
    grpc::ClientContext ctx;
    const grpc::Status s =
        v1::Admin::NewStub(Channel(0, admin))
            ->ReloadPolicy(&ctx, v1::ReloadRequest(), reloaded);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::shared_ptr<grpc::Channel> Channel(int broker, const Credentials& c) {
    return ChannelFor(*brokers_[broker], deployment_.ca_cert(), c);
  }

  absl::StatusOr<v1::GetTreeHeadResponse> Head(int broker) {
    v1::GetTreeHeadResponse head;
    grpc::ClientContext ctx;
    const grpc::Status s =
        v1::Audit::NewStub(Channel(broker, dpo_))
            ->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &head);
    return ToStatusOr(s, head);
  }

  PgCluster::Options options_;
  std::unique_ptr<PgCluster> server_;
  Deployment deployment_;
  Credentials health_, social_, dpo_;
  std::vector<std::unique_ptr<BrokerProcess>> brokers_;
};

TEST_F(ClusterTest, ThreeBrokersShareOneGapFreeLogAndDeliverEachSendOnce) {
  const std::string consent =
      RecordConsentFromSubject(Channel(0, health_), kExampleSubject);
  ASSERT_FALSE(consent.empty());

  // Four agency systems at once, each sending through every broker in
  // turn; each send is retried once through another broker, which must
  // answer with the first response and store nothing more.
  constexpr int kSenders = 4;
  constexpr int kEach = 9;
  absl::Mutex mu;
  std::set<std::string> sent;
  std::vector<std::string> failures;
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kEach; ++i) {
        const std::string key = absl::StrCat("send-", s, "-", i);
        const v1::SendReferralRequest request =
            ExampleHealthReferral(key, "malmo-social", consent);
        v1::SendReferralResponse first, retry;
        grpc::ClientContext ctx1, ctx2;
        const grpc::Status a =
            v1::Exchange::NewStub(Channel((s + i) % kBrokers, health_))
                ->SendReferral(&ctx1, request, &first);
        const grpc::Status b =
            v1::Exchange::NewStub(Channel((s + i + 1) % kBrokers, health_))
                ->SendReferral(&ctx2, request, &retry);
        absl::MutexLock lock(&mu);
        if (!a.ok() || !b.ok()) {
          failures.push_back(
              absl::StrCat(key, ": ", a.error_message(), b.error_message()));
        } else if (first.referral_id() != retry.referral_id() ||
                   first.log_sequence() != retry.log_sequence()) {
          failures.push_back(key + ": the retry got another answer");
        } else {
          sent.insert(first.referral_id());
        }
      }
    });
  }
  for (std::thread& t : senders) t.join();
  ASSERT_TRUE(failures.empty()) << failures.front();
  ASSERT_EQ(sent.size(), size_t{kSenders * kEach});

  // Delivered once each, to a stream on the third broker, whichever broker
  // took the send.
  InboxRead read;
  read.acknowledge = true;
  read.wait = absl::Seconds(20);
  read.keep = [](const v1::InboxMessage& m) { return m.has_referral(); };
  std::vector<v1::InboxMessage> received =
      ReadInbox(Channel(2, social_), sent.size(), read);
  std::multiset<std::string> ids;
  for (const v1::InboxMessage& m : received) {
    ids.insert(m.referral().referral_id());
  }
  EXPECT_EQ(ids.size(), sent.size());
  for (const std::string& id : sent) EXPECT_EQ(ids.count(id), 1u) << id;
  // Nothing more arrives later, through any broker.
  read.wait = absl::Seconds(1);
  EXPECT_TRUE(ReadInbox(Channel(0, social_), 1, read).empty());

  // One log: every broker shows the same signed head, its entries are
  // numbered 0, 1, 2, ... with no gap, and every proof verifies.
  v1::GetTreeHeadResponse heads[kBrokers];
  for (int b = 0; b < kBrokers; ++b) {
    grpc::ClientContext ctx;
    ASSERT_TRUE(v1::Audit::NewStub(Channel(b, dpo_))
                    ->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &heads[b])
                    .ok());
    ASSERT_TRUE(
        VerifyTreeHead(heads[b].tree_head(), heads[0].public_key()).ok());
  }
  const v1::TreeHead& head = heads[2].tree_head();
  EXPECT_EQ(heads[0].tree_head().tree_size(), head.tree_size());
  EXPECT_EQ(heads[1].tree_head().root_hash(), head.root_hash());
  // The export is logged (one ACCESS entry past the head): ask for the
  // head's size.
  v1::ExportLogRequest export_request;
  export_request.set_with_proofs(true);
  export_request.set_tree_size(head.tree_size());
  grpc::ClientContext ctx;
  auto reader =
      v1::Audit::NewStub(Channel(1, dpo_))->ExportLog(&ctx, export_request);
  v1::ExportedEntry e;
  uint64_t expected = 0;
  while (reader->Read(&e)) {
    ASSERT_EQ(e.sequence(), expected) << "a gap in the log";
    std::vector<std::string> proof(e.proof().hashes().begin(),
                                   e.proof().hashes().end());
    EXPECT_TRUE(merkle::VerifyInclusion(e.sequence(), head.tree_size(),
                                        merkle::LeafHash(e.leaf()), proof,
                                        head.root_hash())
                    .ok())
        << e.sequence();
    ++expected;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(expected, head.tree_size());
  // The consent, each send and each delivery at least.
  EXPECT_GE(expected, 1 + 2 * sent.size());
}

TEST_F(ClusterTest, ASendThroughOneBrokerWakesAStreamOnAnother) {
  const std::string consent =
      RecordConsentFromSubject(Channel(0, health_), kExampleSubject);
  // The stream opens on broker 3 first and waits; the send goes through
  // broker 1 once it is open.
  std::vector<v1::InboxMessage> received;
  std::thread reader([&] {
    InboxRead read;
    read.wait = absl::Seconds(15);
    read.keep = [](const v1::InboxMessage& m) { return m.has_referral(); };
    received = ReadInbox(Channel(2, social_), 1, read);
  });
  Credentials admin = deployment_.Issue({"admin", "--id=root"});
  const bool connected = PollUntil(
      [&] {
        v1::BrokerStatus status;
        grpc::ClientContext c;
        v1::Admin::NewStub(Channel(2, admin))
            ->GetStatus(&c, v1::GetStatusRequest(), &status)
            .IgnoreError();
        for (const std::string& id : status.connected_agencies()) {
          if (id == "malmo-social") return true;
        }
        return false;
      },
      absl::Seconds(10));
  if (!connected) {
    reader.join();  // gives up after its wait
    FAIL() << "the stream on broker 3 never connected";
  }
  v1::SendReferralResponse sent;
  grpc::ClientContext ctx;
  const absl::Time at = absl::Now();
  ASSERT_TRUE(
      v1::Exchange::NewStub(Channel(0, health_))
          ->SendReferral(&ctx,
                         ExampleHealthReferral("wake", "malmo-social", consent),
                         &sent)
          .ok());
  reader.join();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].referral().referral_id(), sent.referral_id());
  // Woken by the notification, not by a poll: well within the default
  // lease, which is the stream's only other reason to look again.
  EXPECT_LT(absl::Now() - at, absl::Seconds(10));
}

TEST_F(ClusterTest, ARegistryChangeThroughOneBrokerReachesTheOthers) {
  // Suspended through broker 1: broker 3 refuses referrals to it too,
  // without a restart.
  const std::string consent =
      RecordConsentFromSubject(Channel(0, health_), kExampleSubject);
  grpc::ClientContext ctx;
  v1::SetAgencyStatusRequest suspend;
  suspend.set_agency_id("malmo-social");
  suspend.set_reason("certificate compromised, reissuing");
  Credentials admin = deployment_.Issue({"admin", "--id=root"});
  v1::Agency agency;
  ASSERT_TRUE(v1::Admin::NewStub(Channel(0, admin))
                  ->SuspendAgency(&ctx, suspend, &agency)
                  .ok());
  int attempt = 0;
  grpc::Status refused;
  EXPECT_TRUE(PollUntil(
      [&] {
        v1::SendReferralResponse r;
        grpc::ClientContext c;
        refused = v1::Exchange::NewStub(Channel(2, health_))
                      ->SendReferral(&c,
                                     ExampleHealthReferral(
                                         absl::StrCat("suspended-", attempt++),
                                         "malmo-social", consent),
                                     &r);
        return refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
      },
      absl::Seconds(10)))
      << refused.error_code() << " " << refused.error_message();
}

TEST_F(ClusterTest, PolicyAndCrlReloadsThroughOneBrokerReachTheOthers) {
  Credentials admin = deployment_.Issue({"admin", "--id=root"});
  auto policy_version = [&](int broker) {
    return PolicyVersion(broker, admin);
  };
  const std::string before = policy_version(2);
  ASSERT_FALSE(before.empty());

  // Every broker reads the deployment's policy folder; the change is asked
  // of broker 1 only.
  ASSERT_NO_FATAL_FAILURE(LowerAConsentLevel());
  v1::ReloadResponse reloaded;
  ASSERT_NO_FATAL_FAILURE(ReloadPolicyThroughTheFirst(admin, &reloaded));
  ASSERT_NE(reloaded.version(), before);
  for (int b = 1; b < kBrokers; ++b) {
    EXPECT_TRUE(
        PollUntil([&] { return policy_version(b) == reloaded.version(); },
                  absl::Seconds(10)))
        << "broker " << b + 1 << " still has policy " << policy_version(b);
  }

  // A certificate revoked and the CRL reloaded through broker 1: broker 3
  // refuses it too.
  deployment_.Revoke(social_.serial);
  {
    grpc::ClientContext ctx;
    v1::ReloadResponse crl;
    const grpc::Status s = v1::Admin::NewStub(Channel(0, admin))
                               ->ReloadCrl(&ctx, v1::ReloadRequest(), &crl);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::Status refused;
  EXPECT_TRUE(PollUntil(
      [&] {
        v1::WhoAmIResponse who;
        grpc::ClientContext ctx;
        refused = v1::Identity::NewStub(Channel(2, social_))
                      ->WhoAmI(&ctx, v1::WhoAmIRequest(), &who);
        return refused.error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      absl::Seconds(10)))
      << refused.error_code() << " " << refused.error_message();

  // Each broker logged its own reloads: the one asked as the admin, the
  // others as following it, once each.
  v1::QueryLogRequest q;
  q.mutable_filter()->add_kinds(v1::ENTRY_KIND_ADMIN);
  v1::QueryLogResponse page;
  grpc::ClientContext ctx;
  ASSERT_TRUE(
      v1::Audit::NewStub(Channel(1, dpo_))->QueryLog(&ctx, q, &page).ok());
  std::multiset<std::string> reloads;
  for (const v1::LogEntry& e : page.entries()) {
    if (absl::StrContains(e.reason(), "reloaded from")) {
      reloads.insert(absl::StrCat(e.reason().substr(0, 3), " by ", e.actor()));
    }
  }
  EXPECT_EQ(reloads.count("pol by liaison://admin/root"), 1u);
  EXPECT_EQ(reloads.count("pol by liaison://broker/follow/reload"), 2u);
  EXPECT_EQ(reloads.count("CRL by liaison://admin/root"), 1u);
  EXPECT_EQ(reloads.count("CRL by liaison://broker/follow/reload"), 2u);
}

TEST_F(ClusterTest, ABrokerWhosePolicyDoesNotCheckKeepsItsOwnWhenOthersReload) {
  // Broker 3 restarted on its own copy of the policy folder, which then
  // breaks; the change is asked of broker 1.
  brokers_[2].reset();
  const std::string own = deployment_.root() + "/policy-3";
  std::filesystem::copy(deployment_.policy_dir(), own,
                        std::filesystem::copy_options::recursive);
  brokers_[2] = std::make_unique<BrokerProcess>(
      deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1",
                                            "--policy_dir=" + own});
  ASSERT_GT(brokers_[2]->port(), 0) << brokers_[2]->Output();
  Credentials admin = deployment_.Issue({"admin", "--id=root"});
  auto policy_version = [&](int broker) {
    return PolicyVersion(broker, admin);
  };
  const std::string before = policy_version(2);
  ASSERT_FALSE(before.empty());
  std::ofstream(own + "/zz-broken.textproto")
      << "agreements { id: \"x\" valid_from: 2026 }\n";
  ASSERT_NO_FATAL_FAILURE(LowerAConsentLevel());

  const size_t lines = brokers_[2]->LineCount();
  v1::ReloadResponse reloaded;
  ASSERT_NO_FATAL_FAILURE(ReloadPolicyThroughTheFirst(admin, &reloaded));
  ASSERT_TRUE(
      brokers_[2]->WaitForLine("does not check", lines, absl::Seconds(10)))
      << brokers_[2]->Output();
  EXPECT_TRUE(absl::StrContains(brokers_[2]->Output(), "zz-broken.textproto:1"))
      << brokers_[2]->Output();
  // Broker 2 follows; broker 3 decides by the set it had.
  EXPECT_TRUE(PollUntil([&] { return policy_version(1) == reloaded.version(); },
                        absl::Seconds(10)));
  EXPECT_EQ(policy_version(2), before);

  // The refusal is in the log, as a reload not allowed, by broker 3.
  v1::QueryLogRequest q;
  q.mutable_filter()->add_kinds(v1::ENTRY_KIND_ADMIN);
  v1::QueryLogResponse page;
  grpc::ClientContext ctx;
  ASSERT_TRUE(
      v1::Audit::NewStub(Channel(1, dpo_))->QueryLog(&ctx, q, &page).ok());
  int refused = 0, followed = 0;
  for (const v1::LogEntry& e : page.entries()) {
    if (e.actor() != "liaison://broker/follow/reload") continue;
    if (absl::StrContains(e.reason(), "refused")) {
      EXPECT_FALSE(e.allowed());
      EXPECT_TRUE(absl::StrContains(e.reason(), own)) << e.reason();
      ++refused;
    } else if (absl::StrContains(e.reason(), "reloaded from")) {
      ++followed;
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(followed, 1);
}

TEST_F(ClusterTest, ABrokerKilledMidLoadLosesNothingItAnswered) {
  const std::string consent =
      RecordConsentFromSubject(Channel(0, health_), kExampleSubject);
  // Sends through broker 2 while it is killed with -9; broker 1 and 3 go
  // on. Every send answered OK is delivered once.
  std::set<std::string> answered;
  std::thread sender([&] {
    for (int i = 0; i < 40; ++i) {
      v1::SendReferralResponse r;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
      if (v1::Exchange::NewStub(Channel(1, health_))
              ->SendReferral(&ctx,
                             ExampleHealthReferral(absl::StrCat("kill-", i),
                                                   "malmo-social", consent),
                             &r)
              .ok()) {
        answered.insert(r.referral_id());
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(300));
  brokers_[1]->Signal(SIGKILL);
  sender.join();
  brokers_[1]->WaitForExit();
  for (int i = 0; i < 10; ++i) {
    v1::SendReferralResponse r;
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        v1::Exchange::NewStub(Channel(i % 2 == 0 ? 0 : 2, health_))
            ->SendReferral(&ctx,
                           ExampleHealthReferral(absl::StrCat("after-", i),
                                                 "malmo-social", consent),
                           &r)
            .ok());
    answered.insert(r.referral_id());
  }
  // The send in flight when broker 2 died may have committed unanswered;
  // it is delivered too, so one more may come (the sender sends one at a
  // time). Reading only as many as were answered could stop short of one.
  InboxRead read;
  read.acknowledge = true;
  read.wait = absl::Seconds(10);
  read.keep = [](const v1::InboxMessage& m) { return m.has_referral(); };
  std::multiset<std::string> ids;
  for (const v1::InboxMessage& m :
       ReadInbox(Channel(0, social_), answered.size() + 1, read)) {
    ids.insert(m.referral().referral_id());
  }
  for (const std::string& id : answered) EXPECT_EQ(ids.count(id), 1u) << id;
  EXPECT_LE(ids.size(), answered.size() + 1);
  for (const std::string& id : ids) EXPECT_EQ(ids.count(id), 1u) << id;
}

// The database deployed as the README says: a primary with a synchronous
// standby, and brokers that name both.
class FailoverTest : public ClusterTest {
 protected:
  void SetUp() override {
    options_.with_standby = true;
    ClusterTest::SetUp();
  }
};

TEST_F(FailoverTest, LosingThePrimaryLosesNothingAcknowledged) {
  const std::string consent =
      RecordConsentFromSubject(Channel(0, health_), kExampleSubject);
  ASSERT_FALSE(consent.empty());
  absl::StatusOr<v1::GetTreeHeadResponse> before = Head(0);
  ASSERT_TRUE(before.ok()) << before.status();

  // Two agency systems sending throughout, as agencies do: a send refused
  // UNAVAILABLE while the database fails over is retried with the same
  // request (and so the same idempotency key) through the next broker.
  absl::Mutex mu;
  std::set<std::string> answered;
  int unavailable = 0;
  std::string failure;
  std::atomic<bool> stop{false};
  auto send_until_stopped = [&](int client) {
    for (int i = 0; !stop.load(); ++i) {
      const v1::SendReferralRequest request = ExampleHealthReferral(
          absl::StrCat("failover-", client, "-", i), "malmo-social", consent);
      for (int attempt = 0;; ++attempt) {
        v1::SendReferralResponse r;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
        const grpc::Status s =
            v1::Exchange::NewStub(
                Channel((client + i + attempt) % kBrokers, health_))
                ->SendReferral(&ctx, request, &r);
        {
          absl::MutexLock lock(&mu);
          if (s.ok()) {
            answered.insert(r.referral_id());
            break;
          }
          if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
              s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
            failure = s.error_message();
          } else if (++unavailable, attempt == 60) {
            failure = "still unavailable after a minute: " + s.error_message();
          }
          if (!failure.empty()) {
            stop = true;
            return;
          }
        }
        absl::SleepFor(absl::Milliseconds(200));
      }
    }
  };
  std::thread first(send_until_stopped, 0);
  std::thread second(send_until_stopped, 1);
  auto answered_count = [&] {
    absl::MutexLock lock(&mu);
    return answered.size();
  };
  auto await_count = [&](size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (answered_count() < n && !stop.load() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return answered_count() >= n;
  };
  const bool sent_before = await_count(10);
  bool stopped = false, promoted = false;
  size_t at_promotion = 0;
  if (sent_before) {
    stopped = server_->StopPrimaryImmediately().ok();
    absl::SleepFor(absl::Milliseconds(300));
    promoted = server_->PromoteStandby().ok();
    at_promotion = answered_count();
  }
  const bool sent_after = await_count(at_promotion + 10);
  stop = true;
  first.join();
  second.join();
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_TRUE(sent_before && stopped && promoted && sent_after)
      << "answered " << answered.size() << " sends";

  // Every send answered OK, before and after, delivered exactly once.
  InboxRead read;
  read.acknowledge = true;
  read.wait = absl::Seconds(20);
  read.keep = [](const v1::InboxMessage& m) { return m.has_referral(); };
  std::multiset<std::string> ids;
  for (const v1::InboxMessage& m :
       ReadInbox(Channel(2, social_), answered.size(), read)) {
    ids.insert(m.referral().referral_id());
  }
  EXPECT_EQ(ids.size(), answered.size());
  for (const std::string& id : answered) EXPECT_EQ(ids.count(id), 1u) << id;

  // The log after the failover extends the head signed before it.
  absl::StatusOr<v1::GetTreeHeadResponse> after = Head(1);
  ASSERT_TRUE(after.ok()) << after.status();
  const v1::TreeHead& old_head = before->tree_head();
  const v1::TreeHead& new_head = after->tree_head();
  const absl::Status signature = VerifyTreeHead(new_head, before->public_key());
  ASSERT_TRUE(signature.ok()) << signature;
  ASSERT_GT(new_head.tree_size(), old_head.tree_size());
  v1::GetConsistencyProofRequest request;
  request.set_first_size(old_head.tree_size());
  request.set_second_size(new_head.tree_size());
  v1::ConsistencyProof proof;
  grpc::ClientContext ctx;
  ASSERT_TRUE(v1::Audit::NewStub(Channel(2, dpo_))
                  ->GetConsistencyProof(&ctx, request, &proof)
                  .ok());
  std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
  EXPECT_TRUE(merkle::VerifyConsistency(
                  old_head.tree_size(), new_head.tree_size(),
                  old_head.root_hash(), new_head.root_hash(), hashes)
                  .ok());
  std::cout << "failover: " << answered.size() << " sends answered OK, "
            << unavailable << " answers UNAVAILABLE retried\n";
}

}  // namespace
}  // namespace liaison::testing
