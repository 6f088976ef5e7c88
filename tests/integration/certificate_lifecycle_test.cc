// The certificate lifecycle over the real broker: what the broker reports
// of the certificates it knows, CRL reloads by call and by SIGHUP, streams
// that end when their certificate expires or is revoked, renewal with an
// overlap, and the broker's own certificate rotated without a restart
// (DESIGN.md section 3).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "clients/client.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "liaison/v1/identity.grpc.pb.h"
#include "tests/common/admin_fixture.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

TEST_F(AdminTest, StatusAndCrlReloadTellTheBrokersState) {
  // A principal whose certificate runs out soon calls once.
  const Credentials soon =
      deployment_.Issue({"agency", "--sector=health", "--id=st-olavs",
                         "--days=10", "--out=" + deployment_.root() + "/soon"});
  ASSERT_TRUE(WhoAmI(soon).ok());
  OpenStream stream(Channel(health_));
  ASSERT_TRUE(WaitConnected("st-olavs", true));

  const v1::BrokerStatus status = Status();
  EXPECT_FALSE(status.version().empty());
  EXPECT_FALSE(status.policy_version().empty());
  EXPECT_GT(status.started_at().seconds(), 0);
  EXPECT_EQ(status.expiring_within_days(), 30u);
  ASSERT_EQ(status.connected_agencies_size(), 1);
  EXPECT_EQ(status.connected_agencies(0), "st-olavs");
  // st-olavs's newest certificate is the one issued in SetUp (365 days):
  // the short one is not its newest, so nothing of st-olavs is listed.
  for (const auto& e : status.expiring_certificates()) {
    EXPECT_NE(e.serial(), soon.serial);
  }
  // A certificate the broker refuses is not one it reports on.
  const Credentials ghost =
      deployment_.Issue({"agency", "--sector=health", "--id=ghost", "--days=5",
                         "--out=" + deployment_.root() + "/ghost"});
  EXPECT_EQ(WhoAmI(ghost).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  {
    // Within a year's window, the newest certificate of each caller is.
    grpc::ClientContext ctx;
    v1::GetStatusRequest req;
    req.set_expiring_within_days(400);
    v1::BrokerStatus wide;
    ASSERT_TRUE(Admin(admin_)->GetStatus(&ctx, req, &wide).ok());
    std::vector<std::string> serials;
    for (const auto& e : wide.expiring_certificates()) {
      serials.push_back(e.serial());
    }
    EXPECT_NE(std::find(serials.begin(), serials.end(), health_.serial),
              serials.end());
    EXPECT_NE(std::find(serials.begin(), serials.end(), admin_.serial),
              serials.end());
    EXPECT_EQ(std::find(serials.begin(), serials.end(), soon.serial),
              serials.end());
    EXPECT_EQ(std::find(serials.begin(), serials.end(), ghost.serial),
              serials.end());
  }

  // Revoking st-olavs's newest certificate makes the short one its newest
  // good one, and the CRL reload ends the stream opened with the revoked one.
  deployment_.Revoke(health_.serial);
  grpc::ClientContext ctx;
  v1::ReloadResponse reloaded;
  grpc::Status s =
      Admin(admin_)->ReloadCrl(&ctx, v1::ReloadRequest(), &reloaded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(absl::StrContains(reloaded.detail(), "1 revoked"))
      << reloaded.detail();
  std::optional<grpc::Status> ended = stream.EndedWithin(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const v1::BrokerStatus after = Status();
  bool listed = false;
  for (const auto& e : after.expiring_certificates()) {
    if (e.serial() == soon.serial) {
      listed = true;
      EXPECT_EQ(e.subject(), "liaison://agency/health/st-olavs");
    }
  }
  EXPECT_TRUE(listed);
  EXPECT_GT(after.log_size(), status.log_size());
  const std::vector<v1::LogEntry> log = AdminEntries();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().admin_action(), "reload_crl");

  // A CRL that does not parse is refused and the one in force stays.
  std::ofstream(deployment_.crl()) << "not a CRL\n";
  grpc::ClientContext bad_ctx;
  EXPECT_EQ(Admin(admin_)
                ->ReloadCrl(&bad_ctx, v1::ReloadRequest(), &reloaded)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(WhoAmI(health_).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(WhoAmI(soon).ok());
}

TEST_F(AdminTest, AStreamEndsWhenItsCertificateExpires) {
  // Valid for three more seconds: issued a day ago for one day.
  const std::string not_before = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::Now() - absl::Hours(24) + absl::Seconds(3),
      absl::UTCTimeZone());
  const Credentials brief =
      deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc",
                         "--not_before=" + not_before, "--days=1",
                         "--out=" + deployment_.root() + "/brief"});
  OpenStream stream(Channel(brief));
  std::optional<grpc::Status> ended = stream.EndedWithin(absl::Seconds(15));
  ASSERT_TRUE(ended.has_value()) << "the stream outlived its certificate";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(ended->error_message(), "expired"))
      << ended->error_message();
  // The agency's other certificate goes on.
  EXPECT_TRUE(WhoAmI(social_).ok());
}

TEST_F(AdminTest, RenewalOverlapsUntilTheOldCertificateIsRevoked) {
  ASSERT_TRUE(Bind("malmo-sc", social_.serial, true).ok());
  const Credentials renewed = deployment_.Renew(social_.serial);
  ASSERT_NE(renewed.serial, social_.serial);
  // The agency binds its serials, so the new one must be bound to work.
  EXPECT_EQ(WhoAmI(renewed).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Bind("malmo-sc", renewed.serial, true).ok());
  // The overlap: both work, and a stream stays open on the old one.
  EXPECT_TRUE(WhoAmI(social_).ok());
  EXPECT_TRUE(WhoAmI(renewed).ok());
  OpenStream old_stream(Channel(social_));
  ASSERT_TRUE(WaitConnected("malmo-sc", true));

  // The old one is revoked and the CRL reloaded on SIGHUP: its stream ends,
  // its calls are refused, and the new one goes on.
  deployment_.Revoke(social_.serial);
  const size_t lines = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("CRL reloaded: 1 revoked", lines))
      << broker_->Output();
  std::optional<grpc::Status> ended = old_stream.EndedWithin(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(ended->error_message(), "revoked"));
  EXPECT_EQ(WhoAmI(social_).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(WhoAmI(renewed).ok());
  OpenStream new_stream(Channel(renewed));
  EXPECT_FALSE(new_stream.EndedWithin(absl::Milliseconds(300)).has_value());
  // The broker logged the reload as ADMIN, by the signal.
  const std::vector<v1::LogEntry> log = AdminEntries();
  auto crl = std::find_if(log.begin(), log.end(), [](const v1::LogEntry& e) {
    return e.admin_action() == "reload_crl";
  });
  ASSERT_NE(crl, log.end());
  EXPECT_EQ(crl->actor(), "liaison://broker/signal/SIGHUP");
}

TEST_F(AdminTest, TheBrokerReportsExpiringCertificatesWhenItStarts) {
  // Right after "listening on".
  EXPECT_TRUE(broker_->WaitForLine(
      "no certificate known to the broker expires within 30 days", 0))
      << broker_->Output();
  // An auditor whose only certificate runs out in ten days calls once; the
  // broker remembers it across a restart and names it at the next start.
  const Credentials soon =
      deployment_.Issue({"auditor", "--id=dpo", "--days=10",
                         "--out=" + deployment_.root() + "/soon"});
  ASSERT_TRUE(WhoAmI(soon).ok());
  ASSERT_EQ(broker_->Stop(), 0);
  broker_ = std::make_unique<BrokerProcess>(
      deployment_, std::vector<std::string>{"--shutdown_grace_seconds=2"});
  ASSERT_GT(broker_->port(), 0) << broker_->Output();
  ASSERT_TRUE(
      broker_->WaitForLine("certificate expiring: liaison://auditor/dpo "
                           "serial " +
                               soon.serial,
                           0))
      << broker_->Output();
  EXPECT_FALSE(absl::StrContains(broker_->Output(), "no certificate known"));
  // The auditor's 365-day certificate from SetUp has not been used, so the
  // broker knows only the short one; once the long one calls, it is the
  // auditor's newest and the short one is no longer a worry.
  ASSERT_TRUE(WhoAmI(auditor_).ok());
  const v1::BrokerStatus status = Status();
  for (const auto& e : status.expiring_certificates()) {
    EXPECT_NE(e.subject(), "liaison://auditor/dpo");
  }
}

// The serial of the certificate the broker presented on `channel`'s
// connection, as seen by the client.
std::string ServerSerial(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::WhoAmIResponse resp;
  grpc::Status s =
      v1::Identity::NewStub(channel)->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return client::PeerCertificateSerial(ctx);
}

void CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
}

TEST_F(AdminTest, BrokerCertificateRotatesWithoutRestartWhileStreamsGoOn) {
  const std::string cert =
      deployment_.ca_dir() + "/issued/server-broker-test.crt";
  const std::string key =
      deployment_.ca_dir() + "/issued/server-broker-test.key";
  const std::shared_ptr<grpc::Channel> before = Channel(social_);
  const std::string old_serial = ServerSerial(before);
  ASSERT_FALSE(old_serial.empty());
  OpenStream stream(before);
  ASSERT_TRUE(WaitConnected("malmo-sc", true));

  // A renewed server certificate is put where the config points, then SIGHUP.
  const Credentials renewed = deployment_.Renew(cert);
  CopyFile(renewed.key, key);
  CopyFile(renewed.cert, cert);
  size_t lines = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("replaced by " + renewed.serial, lines))
      << broker_->Output();
  // New connections get the new certificate (the TLS layer picks the
  // installed pair up within a second).
  std::string seen;
  PollUntil([&] {
    seen = ServerSerial(Channel(health_));
    return seen == renewed.serial;
  });
  EXPECT_EQ(seen, renewed.serial);
  // The stream opened before goes on and still delivers.
  EXPECT_FALSE(stream.EndedWithin(absl::Milliseconds(100)).has_value());
  const std::string consent =
      RecordConsentFromSubject(Channel(health_), kExampleSubject);
  {
    grpc::ClientContext ctx;
    v1::SendReferralResponse sent;
    grpc::Status s =
        v1::Exchange::NewStub(Channel(health_))
            ->SendReferral(
                &ctx,
                ExampleHealthReferral("after-rotation", "malmo-sc", consent),
                &sent);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  PollUntil([&] { return stream.read() != 0; });
  EXPECT_EQ(stream.read(), 1);
  EXPECT_FALSE(stream.EndedWithin(absl::Milliseconds(100)).has_value());

  // A key that is not the certificate's is refused; the pair in force
  // stays and new connections still work.
  CopyFile(social_.key, key);
  lines = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("server certificate reload failed", lines))
      << broker_->Output();
  // Nothing signals that a pair was not installed: wait longer than the
  // TLS layer's one-second look at the installed file, then check.
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(ServerSerial(Channel(health_)), renewed.serial);
  const std::vector<v1::LogEntry> log = AdminEntries();
  int rotations = 0;
  int refused = 0;
  for (const v1::LogEntry& e : log) {
    if (e.admin_action() != "reload_server_certificate") continue;
    ++rotations;
    if (!e.allowed()) ++refused;
  }
  EXPECT_EQ(rotations, 2);
  EXPECT_EQ(refused, 1);
}

}  // namespace
}  // namespace liaison::testing
