// The policy engine in the running broker: records reduced to each
// recipient's level by the default policy set, routes without an agreement
// denied, a broken policy set refused at start and on reload while the set
// in force stays, and Admin.ReloadPolicy for admins only (DESIGN.md
// sections 4 and 9).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
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
  agencies {
    id: "malmo-police"
    sector: "police"
    jurisdiction: "se"
    area: "malmo"
  }
  auditors { id: "dpo" scope: "*" }
)pb";

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    health_ =
        deployment_.Issue({"agency", "--sector=health", "--id=malmo-hospital"});
    social_ = deployment_.Issue(
        {"agency", "--sector=social_care", "--id=malmo-social"});
    police_ =
        deployment_.Issue({"agency", "--sector=police", "--id=malmo-police"});
    admin_ = deployment_.Issue({"admin", "--id=ops"});
    dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
  }

  void StartBroker() {
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
  }

  std::shared_ptr<grpc::Channel> Channel(const Credentials& c) {
    return ChannelFor(*broker_, deployment_.ca_cert(), c);
  }

  // A health referral carrying diagnosis codes, birth date, address and
  // free text, under consent.
  v1::SendReferralRequest HealthReferral(const std::string& key,
                                         const std::string& to) {
    if (consent_.empty()) {
      consent_ = RecordConsentFromSubject(Channel(health_), kExampleSubject);
    }
    return ExampleHealthReferral(key, to, consent_);
  }

  grpc::Status Send(const Credentials& from, const v1::SendReferralRequest& r,
                    v1::SendReferralResponse* resp) {
    grpc::ClientContext ctx;
    return v1::Exchange::NewStub(Channel(from))->SendReferral(&ctx, r, resp);
  }

  v1::InboxMessage FirstMessage(const Credentials& c) {
    InboxRead how;
    how.wait = absl::Seconds(20);
    std::vector<v1::InboxMessage> got = ReadInbox(Channel(c), 1, how);
    EXPECT_FALSE(got.empty());
    return got.empty() ? v1::InboxMessage() : got[0];
  }

  Deployment deployment_;
  Credentials health_, social_, police_, admin_, dpo_;
  // The child's own consent, recorded at the first referral.
  std::string consent_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(PolicyTest, AHealthRecordReachesEachRecipientAtItsAgreedLevel) {
  StartBroker();
  v1::SendReferralResponse to_social;
  ASSERT_TRUE(
      Send(health_, HealthReferral("s-1", "malmo-social"), &to_social).ok());
  EXPECT_EQ(to_social.level(), v1::LEVEL_CATEGORY);
  const v1::InboxMessage social = FirstMessage(social_);
  const v1::HealthRecord& s = social.referral().record().record().health();
  ASSERT_EQ(s.diagnosis_codes_size(), 1);
  EXPECT_TRUE(absl::StrContains(s.diagnosis_codes(0), "chapter V (F00-F99)"))
      << s.diagnosis_codes(0);
  EXPECT_TRUE(absl::EndsWith(s.subject().birth_date(), "-15") ||
              absl::EndsWith(s.subject().birth_date(), "-17"))
      << s.subject().birth_date();  // an age band, whichever year this runs
  EXPECT_EQ(s.address().municipality(), "Malmo");
  EXPECT_EQ(s.address().street(), "");
  EXPECT_EQ(s.clinician_notes(), "");
  EXPECT_TRUE(social.referral().record().more_available_under_override());

  v1::SendReferralResponse to_police;
  ASSERT_TRUE(
      Send(health_, HealthReferral("p-1", "malmo-police"), &to_police).ok());
  EXPECT_EQ(to_police.level(), v1::LEVEL_SIGNAL);
  const v1::InboxMessage police = FirstMessage(police_);
  const v1::HealthRecord& p = police.referral().record().record().health();
  EXPECT_TRUE(p.diagnosis_codes().empty());
  EXPECT_EQ(p.subject().birth_date(), "");
  EXPECT_FALSE(p.has_address());
  EXPECT_EQ(p.clinician_notes(), "");
  EXPECT_TRUE(p.active_involvement());
  EXPECT_EQ(p.contact_point().name(), "CAMHS duty team");

  // Police to health: no agreement, denied and logged.
  v1::SendReferralRequest back = HealthReferral("back-1", "malmo-hospital");
  back.clear_checklist();
  back.mutable_record()->clear_health();
  back.mutable_record()->mutable_police()->add_incident_references("INC-1");
  v1::SendReferralResponse none;
  grpc::Status denied = Send(police_, back, &none);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(denied.error_message(),
                                "no agreement covers police to health"))
      << denied.error_message();
}

TEST_F(PolicyTest, ABrokenPolicySetStopsTheStartNamingFileAndLine) {
  deployment_.WritePolicyFile("zz-local.textproto",
                              "sectors { name: \"housing\" }\n"
                              "agreements { id: \"x\" levle: 3 }\n");
  BrokerProcess broker(deployment_);
  EXPECT_EQ(broker.port(), 0);
  EXPECT_EQ(broker.WaitForExit(), 1);
  EXPECT_TRUE(absl::StrContains(broker.Output(), "zz-local.textproto:2:"))
      << broker.Output();
  EXPECT_TRUE(absl::StrContains(broker.Output(), "levle"));
}

TEST_F(PolicyTest, ReloadsAreAtomicAndBrokenSetsAreRefused) {
  StartBroker();
  v1::SendReferralResponse first;
  ASSERT_TRUE(
      Send(health_, HealthReferral("r-1", "malmo-social"), &first).ok());
  const std::string version = first.policy_version();

  // A non-admin may not reload.
  auto admin_stub = [&](const Credentials& c) {
    return v1::Admin::NewStub(Channel(c));
  };
  {
    grpc::ClientContext ctx;
    v1::ReloadResponse resp;
    EXPECT_EQ(admin_stub(health_)
                  ->ReloadPolicy(&ctx, v1::ReloadRequest(), &resp)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // A broken set is refused with file:line; the old one decides on.
  deployment_.WritePolicyFile("zz-broken.textproto",
                              "agreements { id: \"x\" valid_from: 2026 }\n");
  {
    grpc::ClientContext ctx;
    v1::ReloadResponse resp;
    grpc::Status s =
        admin_stub(admin_)->ReloadPolicy(&ctx, v1::ReloadRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(s.error_message(), "zz-broken.textproto:1:"))
        << s.error_message();
  }
  const size_t lines = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("policy reload refused", lines))
      << broker_->Output();
  v1::SendReferralResponse still;
  ASSERT_TRUE(
      Send(health_, HealthReferral("r-2", "malmo-social"), &still).ok());
  EXPECT_EQ(still.policy_version(), version);
  EXPECT_EQ(still.level(), v1::LEVEL_CATEGORY);

  // A valid change takes effect on the next decision, by the Admin call.
  std::ifstream in(deployment_.policy_dir() + "/agreements.textproto");
  std::stringstream text;
  text << in.rdbuf();
  std::string agreements = text.str();
  const std::string from =
      "  consent_max_level: LEVEL_CATEGORY\n  override_max_level: "
      "LEVEL_SUMMARY";
  const size_t at = agreements.find(from);
  ASSERT_NE(at, std::string::npos);
  agreements.replace(
      at, from.size(),
      "  consent_max_level: LEVEL_SIGNAL\n  override_max_level: LEVEL_SUMMARY");
  std::remove((deployment_.policy_dir() + "/zz-broken.textproto").c_str());
  deployment_.WritePolicyFile("agreements.textproto", agreements);
  std::string new_version;
  {
    grpc::ClientContext ctx;
    v1::ReloadResponse resp;
    grpc::Status s =
        admin_stub(admin_)->ReloadPolicy(&ctx, v1::ReloadRequest(), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    new_version = resp.version();
    EXPECT_NE(new_version, version);
  }
  v1::SendReferralResponse after;
  ASSERT_TRUE(
      Send(health_, HealthReferral("r-3", "malmo-social"), &after).ok());
  EXPECT_EQ(after.policy_version(), new_version);
  EXPECT_EQ(after.level(), v1::LEVEL_SIGNAL);

  // Each reload attempt is in the log as ADMIN, refused ones as not allowed.
  grpc::ClientContext ctx;
  v1::QueryLogRequest q;
  q.mutable_filter()->add_kinds(v1::ENTRY_KIND_ADMIN);
  v1::QueryLogResponse page;
  ASSERT_TRUE(v1::Audit::NewStub(Channel(dpo_))->QueryLog(&ctx, q, &page).ok());
  // SIGHUP also reloads the broker's certificate and the CRL, each logged.
  int reloads = 0;
  int refused = 0;
  for (const auto& e : page.entries()) {
    if (e.admin_action() != "reload_policy") continue;
    ++reloads;
    if (!e.allowed()) ++refused;
  }
  EXPECT_EQ(reloads, 3);
  EXPECT_EQ(refused, 2);
}

}  // namespace
}  // namespace liaison::testing
