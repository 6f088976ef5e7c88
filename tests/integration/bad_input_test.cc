// Bad input at the disclosure boundary, as an attacker would send it, over
// the real broker: each gets a clear INVALID_ARGUMENT, a bounded message,
// and changes nothing: nothing delivered, nothing appended to the log.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies { id: "malmo-sc" sector: "social_care" area: "malmo" jurisdiction: "se" }
  agencies { id: "rosengard-school" sector: "education" area: "malmo" jurisdiction: "se" }
  auditors { id: "dpo" scope: "*" display_name: "Data Protection Officer" }
)pb";

// Messages quote at most about 200 bytes of any input; with the words
// around them, well under this.
constexpr size_t kMessageBound = 1500;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    school_ = deployment_.Issue(
        {"agency", "--sector=education", "--id=rosengard-school"});
    social_ =
        deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc"});
    dpo_ = deployment_.Issue({"auditor", "--id=dpo"});
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=1"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
    consent_ = RecordConsentFromSubject(
        ChannelFor(*broker_, deployment_.ca_cert(), school_), kExampleSubject);
  }

  std::shared_ptr<grpc::Channel> Channel(const Credentials& c) {
    return ChannelFor(*broker_, deployment_.ca_cert(), c);
  }

  uint64_t LogSize() { return LogTreeSize(Channel(dpo_)); }

  v1::SendReferralRequest Referral(const std::string& key) const {
    v1::SendReferralRequest r =
        SchoolAbsenceReferral("malmo-sc", kExampleSubject);
    r.set_idempotency_key(key);
    r.mutable_record()->mutable_education()->mutable_subject()->set_identifier(
        kExampleSubject);
    r.mutable_basis()->set_consent_id(consent_);
    return r;
  }

  grpc::Status Send(const v1::SendReferralRequest& r,
                    const std::string& professional = "t-1") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("liaison-professional-id", professional);
    v1::SendReferralResponse resp;
    return v1::Exchange::NewStub(Channel(school_))->SendReferral(&ctx, r, &resp);
  }

  // Expects `s` to be INVALID_ARGUMENT mentioning `words`, with a bounded
  // message, and the log not to have grown past `log_size`.
  void ExpectRefused(const grpc::Status& s, const std::string& words,
                     uint64_t log_size) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message().substr(0, 300);
    EXPECT_TRUE(absl::StrContains(s.error_message(), words))
        << s.error_message().substr(0, 300);
    EXPECT_LT(s.error_message().size(), kMessageBound);
    EXPECT_EQ(LogSize(), log_size);
  }

  Deployment deployment_;
  Credentials school_, social_, dpo_;
  std::string consent_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(BadInputTest, UnknownEnumValuesAreMalformed) {
  const uint64_t before = LogSize();
  v1::SendReferralRequest r = Referral("enum-1");
  r.set_urgency(static_cast<v1::Urgency>(99));
  ExpectRefused(Send(r), "urgency: 99 is not a Urgency value", before);

  r = Referral("enum-2");
  r.add_concerns(static_cast<v1::ConcernCategory>(77));
  ExpectRefused(Send(r), "concerns[1]: 77 is not a ConcernCategory value",
                before);

  r = Referral("enum-3");
  v1::Justification* j = r.mutable_basis()->mutable_override();
  j->set_category(static_cast<v1::OverrideCategory>(42));
  j->set_legal_provision("OSL 10 kap. 28 §");
  j->set_statement(std::string(60, 's'));
  j->mutable_assessor()->set_id("t-1");
  ExpectRefused(Send(r), "basis.override.category: 42", before);
}

TEST_F(BadInputTest, OversizedFieldsAreRefusedBeforeAnythingIsDecidedOrLogged) {
  const uint64_t before = LogSize();
  const std::string megabyte(1 << 20, 'x');

  v1::SendReferralRequest r = Referral("big-1");
  r.set_purpose(megabyte);
  ExpectRefused(Send(r), "purpose is 1048576 bytes; at most 200", before);

  r = Referral("big-2");
  r.mutable_basis()->set_consent_id(megabyte);
  ExpectRefused(Send(r), "basis.consent_id is 1048576 bytes", before);

  r = Referral("big-3");
  r.set_requested_action(megabyte);
  ExpectRefused(Send(r), "requested_action is 1048576 bytes; at most 8000",
                before);

  r = Referral("big-4");
  r.mutable_subject()->set_birth_date(megabyte);
  ExpectRefused(Send(r), "subject.birth_date is 1048576 bytes", before);

  // The same over a summary request, a consent and a manual disclosure.
  v1::RequestSummaryRequest ask;
  ask.set_idempotency_key("big-5");
  ask.mutable_holder()->set_agency_id(megabyte);
  ask.mutable_subject()->set_identifier(kExampleSubject);
  ask.set_purpose("child_welfare");
  ask.mutable_basis()->set_consent_id(consent_);
  {
    grpc::ClientContext ctx;
    v1::RequestSummaryResponse resp;
    ExpectRefused(
        v1::Exchange::NewStub(Channel(school_))->RequestSummary(&ctx, ask, &resp),
        "holder.agency_id is 1048576 bytes", before);
  }
  v1::GetConsentRequest get;
  get.set_consent_id(megabyte);
  {
    grpc::ClientContext ctx;
    v1::Consent resp;
    ExpectRefused(
        v1::Exchange::NewStub(Channel(school_))->GetConsent(&ctx, get, &resp),
        "consent_id is 1048576 bytes", before);
  }
  EXPECT_EQ(LogSize(), before);
}

TEST_F(BadInputTest, AnOversizedProfessionalIsCutAndMarkedInTheLog) {
  const uint64_t before = LogSize();
  const std::string long_id(4000, 'p');
  grpc::Status s = Send(Referral("prof-1"), long_id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  grpc::ClientContext ctx;
  v1::QueryLogRequest q;
  q.mutable_filter()->add_kinds(v1::ENTRY_KIND_DISCLOSURE);
  v1::QueryLogResponse resp;
  ASSERT_TRUE(
      v1::Audit::NewStub(Channel(dpo_))->QueryLog(&ctx, q, &resp).ok());
  ASSERT_GE(resp.entries_size(), 1);
  const v1::LogEntry& e = resp.entries(resp.entries_size() - 1);
  EXPECT_GT(e.sequence(), before - 1);
  EXPECT_LT(e.professional().id().size(), 250u);
  EXPECT_TRUE(absl::EndsWith(e.professional().id(), "...(4000 bytes)"))
      << e.professional().id();
}

TEST_F(BadInputTest, BytesThatAreNotTheRequestMessageAreInvalidArgument) {
  const uint64_t before = LogSize();
  grpc::GenericStub stub(Channel(school_));
  // A field 1 tag with a length running past the end: not protobuf.
  const std::string garbage("\x0a\xff\xff\xff\x0f", 5);
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext ctx;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/liaison.v1.Exchange/SendReferral",
                 grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "does not parse"))
      << status.error_message();
  EXPECT_EQ(LogSize(), before);
}

}  // namespace
}  // namespace liaison::testing
