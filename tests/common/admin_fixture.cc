#include "tests/common/admin_fixture.h"

#include <algorithm>
#include <chrono>

#include "liaison/v1/identity.grpc.pb.h"

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
  auditors { id: "dpo" scope: "*" display_name: "Data Protection Officer" }
)pb";

}  // namespace

void AdminTest::SetUp() {
  deployment_.WriteRegistry(kRegistry);
  admin_ = deployment_.Issue({"admin", "--id=ops"});
  health_ = deployment_.Issue({"agency", "--sector=health", "--id=st-olavs"});
  social_ =
      deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc"});
  auditor_ = deployment_.Issue({"auditor", "--id=dpo"});
  broker_ = std::make_unique<BrokerProcess>(
      deployment_, std::vector<std::string>{"--shutdown_grace_seconds=2"});
  ASSERT_GT(broker_->port(), 0) << broker_->Output();
}

std::shared_ptr<grpc::Channel> AdminTest::Channel(const Credentials& creds) {
  return ChannelFor(*broker_, deployment_.ca_cert(), creds);
}

std::unique_ptr<v1::Admin::Stub> AdminTest::Admin(const Credentials& creds) {
  return v1::Admin::NewStub(Channel(creds));
}

grpc::Status AdminTest::WhoAmI(const Credentials& creds) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(20));
  v1::WhoAmIResponse resp;
  return v1::Identity::NewStub(Channel(creds))
      ->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
}

v1::BrokerStatus AdminTest::Status() {
  grpc::ClientContext ctx;
  v1::BrokerStatus status;
  grpc::Status s =
      Admin(admin_)->GetStatus(&ctx, v1::GetStatusRequest(), &status);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return status;
}

bool AdminTest::WaitConnected(const std::string& agency_id, bool connected) {
  return PollUntil(
      [&] {
        const v1::BrokerStatus s = Status();
        const bool is = std::find(s.connected_agencies().begin(),
                                  s.connected_agencies().end(),
                                  agency_id) != s.connected_agencies().end();
        return is == connected;
      },
      absl::Seconds(10), absl::Milliseconds(50));
}

grpc::Status AdminTest::Suspend(const std::string& id,
                                const std::string& reason, v1::Agency* out) {
  grpc::ClientContext ctx;
  v1::SetAgencyStatusRequest req;
  req.set_agency_id(id);
  req.set_reason(reason);
  v1::Agency agency;
  grpc::Status s = Admin(admin_)->SuspendAgency(&ctx, req, &agency);
  if (out != nullptr) *out = agency;
  return s;
}

grpc::Status AdminTest::Bind(const std::string& id, const std::string& serial,
                             bool bind, v1::Agency* out) {
  grpc::ClientContext ctx;
  v1::BindCertificateRequest req;
  req.set_agency_id(id);
  req.set_serial(serial);
  v1::Agency agency;
  grpc::Status s = bind
                       ? Admin(admin_)->BindCertificate(&ctx, req, &agency)
                       : Admin(admin_)->UnbindCertificate(&ctx, req, &agency);
  if (out != nullptr) *out = agency;
  return s;
}

std::vector<v1::LogEntry> AdminTest::AdminEntries() {
  grpc::ClientContext ctx;
  v1::QueryLogRequest q;
  q.mutable_filter()->add_kinds(v1::ENTRY_KIND_ADMIN);
  q.set_page_size(1000);
  v1::QueryLogResponse page;
  grpc::Status s =
      v1::Audit::NewStub(Channel(auditor_))->QueryLog(&ctx, q, &page);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {page.entries().begin(), page.entries().end()};
}

}  // namespace liaison::testing
