// Administration over the real broker: the Admin API refuses everyone but
// admins, manages agencies, bindings and routes, ends the streams of
// agencies it suspends, and records every change in the disclosure log as
// ADMIN. The certificate side of administration (status, CRL reloads,
// renewal, expiry and the broker's own certificate) is in
// certificate_lifecycle_test.cc.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "tests/common/admin_fixture.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

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

TEST_F(AdminTest, SuspendingEndsAnOpenDeliverStreamToo) {
  // A Deliver stream with its read outstanding, as a client waiting for
  // messages and acknowledging nothing holds it.
  auto stub = v1::Exchange::NewStub(Channel(social_));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Deliver(&ctx);
  ASSERT_TRUE(stream->Write(v1::DeliverRequest()));
  ASSERT_TRUE(WaitConnected("malmo-sc", true));

  ASSERT_TRUE(Suspend("malmo-sc", "left the partnership").ok());
  v1::DeliverResponse r;
  while (stream->Read(&r)) {
  }
  grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << ended.error_message();
  EXPECT_TRUE(absl::StrContains(ended.error_message(), "left the partnership"))
      << ended.error_message();
  EXPECT_TRUE(WaitConnected("malmo-sc", false));

  // A new one is refused at once.
  grpc::ClientContext again_ctx;
  auto again = stub->Deliver(&again_ctx);
  again->Write(v1::DeliverRequest());
  while (again->Read(&r)) {
  }
  EXPECT_EQ(again->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
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

}  // namespace
}  // namespace liaison::testing
