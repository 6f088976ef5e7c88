// Administration over the real broker: the Admin API refuses everyone but
// admins, manages agencies, bindings and routes, ends the streams of
// agencies it suspends, reports the broker's state, and records every
// change in the disclosure log as ADMIN.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "clients/client.h"
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
  auditors { id: "dpo" scope: "*" display_name: "Data Protection Officer" }
)pb";

// An open Receive stream, read on its own thread until the broker ends it.
class OpenStream {
 public:
  explicit OpenStream(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::Exchange::NewStub(channel)) {
    reader_ = stub_->Receive(&ctx_, v1::ReceiveRequest());
    ended_ = std::async(std::launch::async, [this] {
               v1::InboxMessage m;
               while (reader_->Read(&m)) ++read_;
               return reader_->Finish();
             }).share();
  }
  ~OpenStream() {
    ctx_.TryCancel();
    ended_.wait();
  }
  // The status the stream ended with, or nullopt if it is still open after
  // `wait`.
  std::optional<grpc::Status> EndedWithin(absl::Duration wait) {
    if (ended_.wait_for(absl::ToChronoSeconds(wait)) !=
        std::future_status::ready) {
      return std::nullopt;
    }
    return ended_.get();
  }
  int read() const { return read_; }

 private:
  std::unique_ptr<v1::Exchange::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::InboxMessage>> reader_;
  std::atomic<int> read_{0};
  std::shared_future<grpc::Status> ended_;
};

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
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

  std::shared_ptr<grpc::Channel> Channel(const Credentials& creds) {
    return ChannelFor(*broker_, deployment_.ca_cert(), creds);
  }
  std::unique_ptr<v1::Admin::Stub> Admin(const Credentials& creds) {
    return v1::Admin::NewStub(Channel(creds));
  }

  grpc::Status WhoAmI(const Credentials& creds) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    v1::WhoAmIResponse resp;
    return v1::Identity::NewStub(Channel(creds))
        ->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  }

  v1::BrokerStatus Status() {
    grpc::ClientContext ctx;
    v1::BrokerStatus status;
    grpc::Status s =
        Admin(admin_)->GetStatus(&ctx, v1::GetStatusRequest(), &status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }

  // Waits until the broker counts `agency_id` as connected (or not).
  bool WaitConnected(const std::string& agency_id, bool connected) {
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

  grpc::Status Suspend(const std::string& id, const std::string& reason,
                       v1::Agency* out = nullptr) {
    grpc::ClientContext ctx;
    v1::SetAgencyStatusRequest req;
    req.set_agency_id(id);
    req.set_reason(reason);
    v1::Agency agency;
    grpc::Status s = Admin(admin_)->SuspendAgency(&ctx, req, &agency);
    if (out != nullptr) *out = agency;
    return s;
  }

  grpc::Status Bind(const std::string& id, const std::string& serial, bool bind,
                    v1::Agency* out = nullptr) {
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

  // The ADMIN entries of the disclosure log, oldest first.
  std::vector<v1::LogEntry> AdminEntries() {
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

  Deployment deployment_;
  Credentials admin_, health_, social_, auditor_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(AdminTest, EveryAdminMethodRefusesEveryoneButAdmins) {
  using Call = std::function<grpc::Status(v1::Admin::Stub&)>;
  v1::RegisterAgencyRequest reg;
  reg.mutable_agency()->set_id("intruder");
  reg.mutable_agency()->set_sector("health");
  v1::SetAgencyStatusRequest status_req;
  status_req.set_agency_id("malmo-sc");
  status_req.set_reason("taken over");
  v1::BindCertificateRequest bind;
  bind.set_agency_id("malmo-sc");
  bind.set_serial("ABCDEF");
  v1::Route route;
  route.set_sector("health");
  route.set_area("malmo");
  route.set_agency_id("st-olavs");
  const std::vector<std::pair<std::string, Call>> calls = {
      {"RegisterAgency",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::Agency r;
         return s.RegisterAgency(&c, reg, &r);
       }},
      {"SuspendAgency",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::Agency r;
         return s.SuspendAgency(&c, status_req, &r);
       }},
      {"ReactivateAgency",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::Agency r;
         return s.ReactivateAgency(&c, status_req, &r);
       }},
      {"ListAgencies",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::ListAgenciesResponse r;
         return s.ListAgencies(&c, v1::ListAgenciesRequest(), &r);
       }},
      {"BindCertificate",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::Agency r;
         return s.BindCertificate(&c, bind, &r);
       }},
      {"UnbindCertificate",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::Agency r;
         return s.UnbindCertificate(&c, bind, &r);
       }},
      {"SetRoute",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::Route r;
         return s.SetRoute(&c, route, &r);
       }},
      {"RemoveRoute",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::RemoveRouteResponse r;
         return s.RemoveRoute(&c, route, &r);
       }},
      {"ListRoutes",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::ListRoutesResponse r;
         return s.ListRoutes(&c, v1::ListRoutesRequest(), &r);
       }},
      {"ReloadPolicy",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::ReloadResponse r;
         return s.ReloadPolicy(&c, v1::ReloadRequest(), &r);
       }},
      {"ReloadCrl",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::ReloadResponse r;
         return s.ReloadCrl(&c, v1::ReloadRequest(), &r);
       }},
      {"GetStatus",
       [&](v1::Admin::Stub& s) {
         grpc::ClientContext c;
         v1::BrokerStatus r;
         return s.GetStatus(&c, v1::GetStatusRequest(), &r);
       }},
  };
  // Every method the service offers is in the list.
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::Admin::service_full_name());
  ASSERT_NE(service, nullptr);
  ASSERT_EQ(static_cast<int>(calls.size()), service->method_count());
  for (const Credentials* creds : {&health_, &auditor_}) {
    auto stub = Admin(*creds);
    for (const auto& [name, call] : calls) {
      grpc::Status s = call(*stub);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << name << " as " << creds->cert << ": " << s.error_message();
      EXPECT_TRUE(
          absl::StrContains(s.error_message(), "Admin service accepts admin"))
          << s.error_message();
    }
  }
  // Without a client certificate there is no call at all.
  {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::BrokerStatus r;
    EXPECT_FALSE(
        Admin(Credentials{})->GetStatus(&c, v1::GetStatusRequest(), &r).ok());
  }
  // Nothing the refused calls asked for happened, and nothing was logged.
  EXPECT_TRUE(WhoAmI(social_).ok());
  EXPECT_TRUE(AdminEntries().empty());
  // An admin passes every one (some then meet the request's own errors).
  auto stub = Admin(admin_);
  for (const auto& [name, call] : calls) {
    EXPECT_NE(call(*stub).error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << name;
  }
}

TEST_F(AdminTest, RegistersAgenciesAndRefusesBadRequestsChangingNothing) {
  auto admin = Admin(admin_);
  v1::Agency fresh;
  fresh.set_id("lund-health");
  fresh.set_sector("health");
  fresh.set_jurisdiction("se");
  fresh.set_area("lund");
  fresh.set_display_name("Lund Health Centre");
  fresh.set_public_authority(true);
  fresh.set_privacy_officer_contact("dpo@lund.example");
  const Credentials lund =
      deployment_.Issue({"agency", "--sector=health", "--id=lund-health"});
  EXPECT_EQ(WhoAmI(lund).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext ctx;
    v1::RegisterAgencyRequest req;
    *req.mutable_agency() = fresh;
    v1::Agency got;
    grpc::Status s = admin->RegisterAgency(&ctx, req, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(got.status(), v1::AGENCY_STATUS_ACTIVE);
    EXPECT_EQ(got.privacy_officer_contact(), "dpo@lund.example");
  }
  EXPECT_TRUE(WhoAmI(lund).ok());

  struct Bad {
    std::string name;
    std::function<void(v1::Agency*)> change;
    grpc::StatusCode code;
  };
  const std::vector<Bad> bad = {
      {"taken id", [](v1::Agency*) {}, grpc::StatusCode::ALREADY_EXISTS},
      {"bad id", [](v1::Agency* a) { a->set_id("Lund Health!"); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"empty id", [](v1::Agency* a) { a->clear_id(); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"bad sector",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_sector("Health Care");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"registered suspended",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_status(v1::AGENCY_STATUS_SUSPENDED);
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"sector the policy does not define",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_sector("transport");
       },
       grpc::StatusCode::FAILED_PRECONDITION},
      {"jurisdiction the policy does not define",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_jurisdiction("xx");
       },
       grpc::StatusCode::FAILED_PRECONDITION},
      {"malformed jurisdiction",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_jurisdiction("Sweden");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"area with a slash",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_area("lund/north");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"display name of two lines",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_display_name("Lund\nregistered agency evil");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"display name too long",
       [](v1::Agency* a) {
         a->set_id("other");
         a->set_display_name(std::string(201, 'x'));
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"with bindings",
       [](v1::Agency* a) {
         a->set_id("other");
         a->add_certificate_serials("AB");
       },
       grpc::StatusCode::INVALID_ARGUMENT},
  };
  const size_t entries = AdminEntries().size();
  for (const Bad& b : bad) {
    grpc::ClientContext ctx;
    v1::RegisterAgencyRequest req;
    *req.mutable_agency() = fresh;
    b.change(req.mutable_agency());
    v1::Agency got;
    EXPECT_EQ(admin->RegisterAgency(&ctx, req, &got).error_code(), b.code)
        << b.name;
  }
  {
    grpc::ClientContext ctx;
    v1::Agency got;
    EXPECT_EQ(admin->RegisterAgency(&ctx, v1::RegisterAgencyRequest(), &got)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(Suspend("no-such-agency", "x").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Suspend("lund-health", "  ").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Bind("lund-health", "not-hex", true).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Bind("no-such-agency", "AB", true).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Bind("lund-health", "AB", false).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // None of them changed the registry or wrote to the log.
  EXPECT_EQ(AdminEntries().size(), entries);
  EXPECT_TRUE(WhoAmI(lund).ok());
  grpc::ClientContext ctx;
  v1::ListAgenciesResponse list;
  ASSERT_TRUE(admin->ListAgencies(&ctx, v1::ListAgenciesRequest(), &list).ok());
  ASSERT_EQ(list.agencies_size(), 3);
  EXPECT_EQ(list.agencies(0).id(), "lund-health");
  EXPECT_EQ(list.agencies(0).display_name(), "Lund Health Centre");
  EXPECT_EQ(list.agencies(1).id(), "malmo-sc");
  EXPECT_EQ(list.agencies(2).id(), "st-olavs");
}

TEST_F(AdminTest, SuspendingEndsTheOpenStreamAndRefusesNewCalls) {
  OpenStream stream(Channel(social_));
  ASSERT_TRUE(WaitConnected("malmo-sc", true));
  EXPECT_FALSE(stream.EndedWithin(absl::Milliseconds(200)).has_value());

  v1::Agency suspended;
  ASSERT_TRUE(
      Suspend("malmo-sc", "certificate key reported lost", &suspended).ok());
  EXPECT_EQ(suspended.status(), v1::AGENCY_STATUS_SUSPENDED);
  EXPECT_EQ(suspended.status_reason(), "certificate key reported lost");
  // The same suspension again changes nothing and logs nothing.
  ASSERT_TRUE(Suspend("malmo-sc", "certificate key reported lost").ok());
  std::optional<grpc::Status> ended = stream.EndedWithin(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value()) << "the stream stayed open";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(ended->error_message(),
                                "certificate key reported lost"))
      << ended->error_message();
  EXPECT_TRUE(WaitConnected("malmo-sc", false));

  // New calls are refused, with the reason; a new stream too.
  grpc::Status who = WhoAmI(social_);
  EXPECT_EQ(who.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(who.error_message(), "suspended"));
  {
    OpenStream again(Channel(social_));
    std::optional<grpc::Status> refused = again.EndedWithin(absl::Seconds(10));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // Other agencies go on.
  EXPECT_TRUE(WhoAmI(health_).ok());

  // Reactivated, it works again; reactivating twice changes nothing more.
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    v1::SetAgencyStatusRequest req;
    req.set_agency_id("malmo-sc");
    req.set_reason("new key issued");
    v1::Agency back;
    ASSERT_TRUE(Admin(admin_)->ReactivateAgency(&ctx, req, &back).ok());
    EXPECT_EQ(back.status(), v1::AGENCY_STATUS_ACTIVE);
    EXPECT_TRUE(back.status_reason().empty());
  }
  EXPECT_TRUE(WhoAmI(social_).ok());

  const std::vector<v1::LogEntry> log = AdminEntries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].admin_action(), "suspend_agency");
  EXPECT_EQ(log[0].actor(), "liaison://admin/ops");
  EXPECT_EQ(log[0].counterpart(), "malmo-sc");
  EXPECT_TRUE(absl::StrContains(log[0].reason(), "key reported lost"));
  EXPECT_EQ(log[1].admin_action(), "reactivate_agency");
}

TEST_F(AdminTest, BindingLimitsAnAgencyToItsSerialsAndEndsOtherStreams) {
  const Credentials second =
      deployment_.Issue({"agency", "--sector=social_care", "--id=malmo-sc",
                         "--out=" + deployment_.root() + "/second"});
  OpenStream stream(Channel(second));
  ASSERT_TRUE(WaitConnected("malmo-sc", true));

  // Bound to the first certificate only: the second's stream ends.
  v1::Agency bound;
  ASSERT_TRUE(Bind("malmo-sc", social_.serial, true, &bound).ok());
  ASSERT_EQ(bound.certificate_serials_size(), 1);
  EXPECT_EQ(bound.certificate_serials(0), social_.serial);
  std::optional<grpc::Status> ended = stream.EndedWithin(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(ended->error_message(), "not bound"))
      << ended->error_message();
  EXPECT_TRUE(WhoAmI(social_).ok());
  EXPECT_EQ(WhoAmI(second).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Binding again changes nothing; the serial may be given in any case and
  // with colons.
  std::string colons;
  for (size_t i = 0; i < social_.serial.size(); ++i) {
    if (i > 0 && i % 2 == 0) colons += ':';
    colons += static_cast<char>(std::tolower(social_.serial[i]));
  }
  ASSERT_TRUE(Bind("malmo-sc", colons, true, &bound).ok());
  EXPECT_EQ(bound.certificate_serials_size(), 1);
  // Unbinding the last serial accepts any certificate naming the agency.
  ASSERT_TRUE(Bind("malmo-sc", social_.serial, false, &bound).ok());
  EXPECT_EQ(bound.certificate_serials_size(), 0);
  EXPECT_TRUE(WhoAmI(second).ok());

  const std::vector<v1::LogEntry> log = AdminEntries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].admin_action(), "bind_certificate");
  EXPECT_TRUE(absl::StrContains(log[0].reason(), social_.serial));
  EXPECT_EQ(log[1].admin_action(), "unbind_certificate");
}

TEST_F(AdminTest, ManagesTheRoutingDirectory) {
  auto admin = Admin(admin_);
  auto set = [&](const std::string& sector, const std::string& area,
                 const std::string& agency) {
    grpc::ClientContext ctx;
    v1::Route route;
    route.set_sector(sector);
    route.set_area(area);
    route.set_agency_id(agency);
    v1::Route got;
    return admin->SetRoute(&ctx, route, &got);
  };
  ASSERT_TRUE(set("social_care", "malmo", "malmo-sc").ok());
  ASSERT_TRUE(set("health", "malmo", "st-olavs").ok());
  EXPECT_EQ(set("health", "malmo", "malmo-sc").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(set("health", "malmo", "nobody").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(set("health", "", "st-olavs").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(set("Health!", "malmo", "st-olavs").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext ctx;
    v1::ListRoutesResponse routes;
    ASSERT_TRUE(admin->ListRoutes(&ctx, v1::ListRoutesRequest(), &routes).ok());
    ASSERT_EQ(routes.routes_size(), 2);
    EXPECT_EQ(routes.routes(0).sector(), "health");
    EXPECT_EQ(routes.routes(0).agency_id(), "st-olavs");
    EXPECT_EQ(routes.routes(1).sector(), "social_care");
  }
  {
    grpc::ClientContext ctx;
    v1::Route route;
    route.set_sector("health");
    route.set_area("malmo");
    v1::RemoveRouteResponse resp;
    ASSERT_TRUE(admin->RemoveRoute(&ctx, route, &resp).ok());
    grpc::ClientContext again;
    EXPECT_EQ(admin->RemoveRoute(&again, route, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  grpc::ClientContext ctx;
  v1::ListRoutesResponse routes;
  ASSERT_TRUE(admin->ListRoutes(&ctx, v1::ListRoutesRequest(), &routes).ok());
  ASSERT_EQ(routes.routes_size(), 1);
  EXPECT_EQ(routes.routes(0).agency_id(), "malmo-sc");

  const std::vector<v1::LogEntry> log = AdminEntries();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].admin_action(), "set_route");
  EXPECT_EQ(log[2].admin_action(), "remove_route");
  EXPECT_TRUE(absl::StrContains(log[2].reason(), "st-olavs"));

  // The directory survives a restart: it is in the store.
  ASSERT_EQ(broker_->Stop(), 0);
  broker_ = std::make_unique<BrokerProcess>(
      deployment_, std::vector<std::string>{"--shutdown_grace_seconds=2"});
  ASSERT_GT(broker_->port(), 0) << broker_->Output();
  grpc::ClientContext after;
  v1::ListRoutesResponse kept;
  ASSERT_TRUE(
      Admin(admin_)->ListRoutes(&after, v1::ListRoutesRequest(), &kept).ok());
  EXPECT_EQ(kept.routes_size(), 1);
}

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

TEST_F(AdminTest, TheCommandLineAdministersTheBroker) {
  auto cli = [&](const Credentials& c, std::vector<std::string> args) {
    return RunLiaison(*broker_, deployment_.ca_cert(), c, args);
  };
  CommandResult r = cli(
      admin_, {"admin", "register", "lund-health", "--sector=health",
               "--jurisdiction=se", "--area=lund", "--display_name=Lund Health",
               "--privacy_officer=dpo@lund.example"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "registered")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "dpo@lund.example")) << r.out;
  r = cli(admin_, {"admin", "route", "set", "health", "lund", "lund-health"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = cli(admin_, {"admin", "routes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "lund-health")) << r.out;
  r = cli(admin_,
          {"admin", "suspend", "lund-health", "--reason=contract ended"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "SUSPENDED: contract ended")) << r.out;
  r = cli(admin_, {"admin", "agencies"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "3 agencies")) << r.out;
  r = cli(admin_, {"admin", "bind", "malmo-sc", social_.serial});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, social_.serial)) << r.out;
  r = cli(admin_, {"admin", "reload-crl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "0 revoked")) << r.out;
  r = cli(admin_, {"admin", "reload-policy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  OpenStream stream(Channel(social_));
  ASSERT_TRUE(WaitConnected("malmo-sc", true));
  r = cli(admin_, {"admin", "status", "--expiring_days=400"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "connected agencies: malmo-sc"))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "liaison://admin/ops")) << r.out;

  // Mistakes: usage errors exit 2 and reach no broker; refusals exit 1.
  const std::vector<std::vector<std::string>> usage = {
      {"admin"},
      {"admin", "frobnicate"},
      {"admin", "suspend", "malmo-sc"},
      {"admin", "register", "x"},
      {"admin", "bind", "malmo-sc"},
      {"admin", "route", "set", "health", "lund"},
      {"admin", "status", "--reason=x"},
  };
  const size_t entries = AdminEntries().size();
  for (const auto& args : usage) {
    r = cli(admin_, args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "liaison help admin")) << r.err;
  }
  r = cli(admin_, {"admin", "bind", "malmo-sc", "not-a-serial"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "INVALID_ARGUMENT")) << r.err;
  r = cli(health_, {"admin", "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "PERMISSION_DENIED")) << r.err;
  EXPECT_EQ(AdminEntries().size(), entries);
  r = RunLiaison({"help", "admin"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.out, "reload-crl")) << r.out;
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
