// The broker knows who is calling: every principal kind over real mutual
// TLS, and every way a caller must be refused (DESIGN.md section 3).
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/time/clock.h"
#include "certs/ca.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "liaison/v1/identity.grpc.pb.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies {
    id: "st-olavs"
    sector: "health"
    jurisdiction: "se"
    area: "malmo"
    display_name: "St Olav's Hospital"
  }
  agencies {
    id: "malmo-sc"
    sector: "social_care"
    jurisdiction: "se"
    area: "malmo"
    display_name: "Malmo Social Services"
  }
  agencies {
    id: "rosengard-school"
    sector: "education"
    jurisdiction: "se"
    area: "malmo"
    display_name: "Rosengard School"
  }
  agencies {
    id: "malmo-police"
    sector: "police"
    jurisdiction: "se"
    area: "malmo"
    display_name: "Malmo Police District"
  }
  agencies {
    id: "closed-clinic"
    sector: "health"
    jurisdiction: "se"
    status: AGENCY_STATUS_SUSPENDED
    status_reason: "data protection review"
  }
  auditors { id: "dpo" scope: "jurisdiction:se" display_name: "Regional DPO" }
)pb";

struct CallResult {
  grpc::Status status;
  v1::WhoAmIResponse response;
};

CallResult WhoAmI(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::Identity::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  CallResult r;
  r.status = stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &r.response);
  return r;
}

class BrokerIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    health_ = deployment_.Issue({"agency", "--sector=health", "--id=st-olavs"});
    // A short grace: shutdown waits for it while test clients stay connected.
    broker_ = std::make_unique<BrokerProcess>(
        deployment_, std::vector<std::string>{"--shutdown_grace_seconds=2"});
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
  }

  std::shared_ptr<grpc::Channel> Channel(const Credentials& creds) {
    return ChannelFor(*broker_, deployment_.ca_cert(), creds);
  }

  // Issues a certificate from this deployment's CA with arbitrary URI SANs,
  // which liaison-certs itself refuses to make.
  Credentials IssueRaw(const std::vector<std::string>& uris,
                       const std::string& label) {
    auto ca = certs::CertificateAuthority::Open(deployment_.ca_dir());
    EXPECT_TRUE(ca.ok()) << ca.status();
    certs::IssueSpec spec;
    spec.common_name = label;
    spec.uri_sans = uris;
    spec.not_before = absl::Now() - absl::Minutes(1);
    spec.validity = absl::Hours(24);
    spec.client_auth = true;
    spec.label = label;
    auto issued = ca->Issue(spec, deployment_.root() + "/raw");
    EXPECT_TRUE(issued.ok()) << issued.status();
    return {issued->cert_path, issued->key_path, issued->serial};
  }

  Deployment deployment_;
  Credentials health_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(BrokerIdentityTest, RecognisesEveryPrincipalKind) {
  struct Case {
    std::vector<std::string> issue;
    v1::PrincipalKind kind;
    std::string uri, id, sector, name, jurisdiction;
  };
  const Case cases[] = {
      {{"agency", "--sector=health", "--id=st-olavs",
        "--out=" + deployment_.root() + "/second"},
       v1::PRINCIPAL_KIND_AGENCY,
       "liaison://agency/health/st-olavs",
       "st-olavs",
       "health",
       "St Olav's Hospital",
       "se"},
      {{"agency", "--sector=social_care", "--id=malmo-sc"},
       v1::PRINCIPAL_KIND_AGENCY,
       "liaison://agency/social_care/malmo-sc",
       "malmo-sc",
       "social_care",
       "Malmo Social Services",
       "se"},
      {{"agency", "--sector=education", "--id=rosengard-school"},
       v1::PRINCIPAL_KIND_AGENCY,
       "liaison://agency/education/rosengard-school",
       "rosengard-school",
       "education",
       "Rosengard School",
       "se"},
      {{"agency", "--sector=police", "--id=malmo-police"},
       v1::PRINCIPAL_KIND_AGENCY,
       "liaison://agency/police/malmo-police",
       "malmo-police",
       "police",
       "Malmo Police District",
       "se"},
      {{"auditor", "--id=dpo"},
       v1::PRINCIPAL_KIND_AUDITOR,
       "liaison://auditor/dpo",
       "dpo",
       "",
       "Regional DPO",
       "jurisdiction:se"},
      {{"admin", "--id=ops"},
       v1::PRINCIPAL_KIND_ADMIN,
       "liaison://admin/ops",
       "ops",
       "",
       "",
       ""},
  };
  for (const Case& c : cases) {
    Credentials creds = deployment_.Issue(c.issue);
    CallResult r = WhoAmI(Channel(creds));
    ASSERT_TRUE(r.status.ok()) << c.uri << ": " << r.status.error_message();
    const v1::Principal& p = r.response.principal();
    EXPECT_EQ(p.kind(), c.kind) << c.uri;
    EXPECT_EQ(p.uri(), c.uri);
    EXPECT_EQ(p.id(), c.id);
    EXPECT_EQ(p.sector(), c.sector);
    EXPECT_EQ(p.display_name(), c.name);
    EXPECT_EQ(p.jurisdiction(), c.jurisdiction);
    EXPECT_EQ(p.certificate_serial(), creds.serial);
    EXPECT_GT(p.certificate_not_after().seconds(),
              absl::ToUnixSeconds(absl::Now()));
  }
}

TEST_F(BrokerIdentityTest, ConnectionWithoutClientCertificateFails) {
  CallResult r = WhoAmI(Channel({"", "", ""}));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << r.status.error_message();
  // The same broker answers a caller that does present its certificate.
  EXPECT_TRUE(WhoAmI(Channel(health_)).status.ok());
}

TEST_F(BrokerIdentityTest, CertificateFromAnotherCaFails) {
  Deployment other;
  Credentials foreign =
      other.Issue({"agency", "--sector=health", "--id=st-olavs"});
  CallResult r = WhoAmI(Channel(foreign));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << r.status.error_message();
  EXPECT_FALSE(r.response.has_principal());
}

TEST_F(BrokerIdentityTest, ExpiredCertificateFails) {
  Credentials expired =
      deployment_.Issue({"agency", "--sector=health", "--id=st-olavs",
                         "--not_before=2020-01-01T00:00:00Z", "--days=1",
                         "--out=" + deployment_.root() + "/expired"});
  CallResult r = WhoAmI(Channel(expired));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << r.status.error_message();

  // The command line explains it before trying.
  CommandResult cli =
      RunLiaison(*broker_, deployment_.ca_cert(), expired, {"whoami"});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.err.find("expired on 2020-01-02"), std::string::npos)
      << cli.err;
}

TEST_F(BrokerIdentityTest,
       RevokedCertificateFailsAfterCrlReloadWithoutRestart) {
  Credentials school = deployment_.Issue(
      {"agency", "--sector=education", "--id=rosengard-school"});
  auto health_channel = Channel(health_);
  auto school_channel = Channel(school);
  ASSERT_TRUE(WhoAmI(health_channel).status.ok());
  ASSERT_TRUE(WhoAmI(school_channel).status.ok());

  // A stream held open across the reload shows connections are not dropped.
  auto health_stub = grpc::health::v1::Health::NewStub(school_channel);
  grpc::ClientContext watch_ctx;
  grpc::health::v1::HealthCheckRequest watch_request;
  auto watch = health_stub->Watch(&watch_ctx, watch_request);
  grpc::health::v1::HealthCheckResponse first;
  ASSERT_TRUE(watch->Read(&first));
  EXPECT_EQ(first.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  const pid_t pid_before = broker_->pid();
  deployment_.Revoke(health_.serial);
  const size_t mark = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("CRL reloaded: 1 revoked", mark))
      << broker_->Output();
  EXPECT_EQ(broker_->pid(), pid_before);

  // Refused on the connection it already had, and on a new one.
  for (auto channel : {health_channel, Channel(health_)}) {
    CallResult r = WhoAmI(channel);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_NE(r.status.error_message().find("serial " + health_.serial +
                                            " was revoked"),
              std::string::npos)
        << r.status.error_message();
  }
  // Others are unaffected, on the same connection as before.
  EXPECT_TRUE(WhoAmI(school_channel).status.ok());
  watch_ctx.TryCancel();
  grpc::health::v1::HealthCheckResponse more;
  while (watch->Read(&more)) {
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(BrokerIdentityTest, BrokenCrlOnReloadKeepsThePreviousOne) {
  deployment_.Revoke(health_.serial);
  size_t mark = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("CRL reloaded: 1 revoked", mark));
  std::ofstream(deployment_.crl()) << "not a CRL\n";
  mark = broker_->LineCount();
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLine("CRL reload failed", mark))
      << broker_->Output();
  EXPECT_TRUE(broker_->WaitForLine("previous CRL stays in force", mark));
  EXPECT_EQ(WhoAmI(Channel(health_)).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(BrokerIdentityTest,
       MalformedSubjectAlternativeNamesAreRefusedWithReason) {
  struct Case {
    std::vector<std::string> uris;
    std::string label;
    grpc::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {{"liaison://agency/Health/st-olavs"},
       "upper-sector",
       grpc::StatusCode::UNAUTHENTICATED,
       "does not name a valid principal"},
      {{"https://st-olavs.example/"},
       "web-uri",
       grpc::StatusCode::UNAUTHENTICATED,
       "expected liaison://"},
      {{"liaison://agency/health"},
       "no-id",
       grpc::StatusCode::UNAUTHENTICATED,
       "liaison://agency/<sector>/<id>"},
      {{"liaison://agency/health/st-olavs", "liaison://admin/ops"},
       "two-uris",
       grpc::StatusCode::UNAUTHENTICATED,
       "has 2 URI SANs"},
      {{}, "no-uri", grpc::StatusCode::UNAUTHENTICATED, "has 0 URI SANs"},
      {{"liaison://agency/health/unknown-clinic"},
       "unregistered",
       grpc::StatusCode::PERMISSION_DENIED,
       "is not registered"},
      {{"liaison://agency/education/st-olavs"},
       "wrong-sector",
       grpc::StatusCode::PERMISSION_DENIED,
       "the registry has it in sector \"health\""},
      {{"liaison://auditor/stranger"},
       "unknown-auditor",
       grpc::StatusCode::PERMISSION_DENIED,
       "auditor \"stranger\" is not registered"},
      {{"liaison://broker/b2"},
       "broker-as-client",
       grpc::StatusCode::PERMISSION_DENIED,
       "broker server certificate"},
  };
  for (const Case& c : cases) {
    CallResult r = WhoAmI(Channel(IssueRaw(c.uris, c.label)));
    EXPECT_EQ(r.status.error_code(), c.code)
        << c.label << ": " << r.status.error_message();
    EXPECT_NE(r.status.error_message().find(c.message), std::string::npos)
        << c.label << ": " << r.status.error_message();
  }
}

TEST_F(BrokerIdentityTest, SuspendedAgencyIsRefused) {
  Credentials closed =
      deployment_.Issue({"agency", "--sector=health", "--id=closed-clinic"});
  CallResult r = WhoAmI(Channel(closed));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(
      r.status.error_message().find(
          "agency \"closed-clinic\" is suspended: data protection review"),
      std::string::npos)
      << r.status.error_message();
}

TEST_F(BrokerIdentityTest, EachServiceAcceptsOnlyItsPrincipalKind) {
  Credentials auditor = deployment_.Issue({"auditor", "--id=dpo"});
  Credentials admin = deployment_.Issue({"admin", "--id=ops"});

  auto list_agencies = [&](const Credentials& c) {
    grpc::ClientContext ctx;
    v1::ListAgenciesResponse resp;
    return v1::Admin::NewStub(Channel(c))
        ->ListAgencies(&ctx, v1::ListAgenciesRequest(), &resp);
  };
  auto tree_head = [&](const Credentials& c) {
    grpc::ClientContext ctx;
    v1::GetTreeHeadResponse resp;
    return v1::Audit::NewStub(Channel(c))
        ->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &resp);
  };
  auto ack = [&](const Credentials& c) {
    grpc::ClientContext ctx;
    v1::AckResponse resp;
    return v1::Exchange::NewStub(Channel(c))
        ->Ack(&ctx, v1::AckRequest(), &resp);
  };
  grpc::Status s = list_agencies(health_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("Admin service accepts admin"),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(list_agencies(auditor).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(tree_head(health_).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(tree_head(admin).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ack(auditor).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ack(admin).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The right kind passes authorisation.
  EXPECT_TRUE(list_agencies(admin).ok());
  EXPECT_TRUE(tree_head(auditor).ok());
  EXPECT_EQ(ack(health_).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Attempts a raw TLS handshake with the given protocol range and cipher
// list, presenting `creds`. Returns "" on success or OpenSSL's reason.
std::string Handshake(int port, int min_version, int max_version,
                      const char* ciphers, const Credentials& creds,
                      const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);  // let the client offer old protocols
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_cipher_list(ctx, ciphers);
  SSL_CTX_use_certificate_file(ctx, creds.cert.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(ctx, creds.key.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string result;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    result = "connect failed";
  } else {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ERR_clear_error();
    if (SSL_connect(ssl) != 1) {
      unsigned long err = ERR_peek_last_error();
      char buf[256];
      ERR_error_string_n(err, buf, sizeof buf);
      result = err != 0 ? buf : "handshake failed";
      ERR_clear_error();
    }
    SSL_free(ssl);
  }
  close(fd);
  SSL_CTX_free(ctx);
  return result;
}

TEST_F(BrokerIdentityTest, OnlyTls12AndLaterWithAeadCiphersAreAccepted) {
  const std::string ca = deployment_.ca_cert();
  const int port = broker_->port();
  // The probe itself works: TLS 1.2 with an AEAD suite and TLS 1.3 succeed.
  EXPECT_EQ(Handshake(port, TLS1_2_VERSION, TLS1_2_VERSION,
                      "ECDHE-ECDSA-AES128-GCM-SHA256", health_, ca),
            "");
  EXPECT_EQ(
      Handshake(port, TLS1_3_VERSION, TLS1_3_VERSION, "DEFAULT", health_, ca),
      "");
  // TLS 1.1 and 1.0 are refused. The broker closes the connection without
  // flushing its alert, so the broker's own account says why.
  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    const size_t mark = broker_->LineCount();
    std::string reason =
        Handshake(port, version, version, "DEFAULT:@SECLEVEL=0", health_, ca);
    EXPECT_NE(reason, "") << "version " << version << " was accepted";
    EXPECT_TRUE(broker_->WaitForLine("unsupported protocol", mark))
        << "version " << version << ": " << broker_->Output();
  }
  // TLS 1.2 offering only CBC (non-AEAD) suites is refused.
  const size_t mark = broker_->LineCount();
  std::string cbc =
      Handshake(port, TLS1_2_VERSION, TLS1_2_VERSION,
                "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:"
                "AES128-SHA256",
                health_, ca);
  EXPECT_NE(cbc, "") << "a CBC-only TLS 1.2 client was accepted";
  EXPECT_TRUE(broker_->WaitForLine("no shared cipher", mark))
      << broker_->Output();
}

TEST_F(BrokerIdentityTest, HealthServiceAnswersAndSigtermStopsGracefully) {
  auto stub = grpc::health::v1::Health::NewStub(Channel(health_));
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(
      stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(broker_->Stop(), 0) << broker_->Output();
  EXPECT_NE(broker_->Output().find("stopped"), std::string::npos);
}

TEST(BrokerStartup, BrokenConfigIsReportedWithFileAndLine) {
  Deployment deployment;
  std::ifstream before(deployment.config());
  const std::string text((std::istreambuf_iterator<char>(before)), {});
  const int line =
      1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  std::ofstream(deployment.config(), std::ios::app) << "lisen: \"x\"\n";
  BrokerProcess broker(deployment);
  EXPECT_EQ(broker.port(), 0);
  EXPECT_EQ(broker.WaitForExit(), 1);
  EXPECT_NE(
      broker.Output().find("broker.textproto:" + std::to_string(line) + ":"),
      std::string::npos)
      << broker.Output();
  EXPECT_NE(broker.Output().find("lisen"), std::string::npos);
}

TEST(BrokerStartup, InvalidRegistrySeedIsReportedAndNothingStarts) {
  Deployment deployment;
  deployment.WriteRegistry("agencies { id: \"Bad Id\" sector: \"health\" }\n");
  BrokerProcess broker(deployment);
  EXPECT_EQ(broker.port(), 0);
  EXPECT_EQ(broker.WaitForExit(), 1);
  EXPECT_NE(broker.Output().find("registry.textproto"), std::string::npos)
      << broker.Output();
  EXPECT_NE(broker.Output().find("Bad Id"), std::string::npos);
}

TEST(BrokerStartup, MissingRequiredSettingNamesTheFlag) {
  CommandResult r =
      RunCommand({BinaryPath("liaison-broker"), "--listen=127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--tls_cert"), std::string::npos) << r.err;
}

TEST(Cli, WhoAmIPrintsThePrincipal) {
  Deployment deployment;
  deployment.WriteRegistry(kRegistry);
  Credentials police =
      deployment.Issue({"agency", "--sector=police", "--id=malmo-police"});
  BrokerProcess broker(deployment);
  ASSERT_GT(broker.port(), 0) << broker.Output();
  CommandResult r =
      RunLiaison(broker, deployment.ca_cert(), police, {"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("principal:    liaison://agency/police/malmo-police"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("name:         Malmo Police District"),
            std::string::npos);

  for (const char* help : {"--help", "help"}) {
    CommandResult h = RunLiaison({help});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("whoami"), std::string::npos);
  }
  CommandResult h = RunLiaison({"whoami", "--help"});
  EXPECT_NE(h.out.find("liaison whoami:"), std::string::npos);
  CommandResult unknown = RunLiaison({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command"), std::string::npos);
  CommandResult broker_help =
      RunCommand({BinaryPath("liaison-broker"), "--help"});
  EXPECT_EQ(broker_help.exit_code, 0);
  EXPECT_NE(broker_help.out.find("SIGHUP"), std::string::npos);
}

}  // namespace
}  // namespace liaison::testing
