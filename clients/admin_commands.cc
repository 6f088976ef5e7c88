#include "clients/admin_commands.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "clients/exchange_text.h"
#include "liaison/v1/admin.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, sector);
ABSL_DECLARE_FLAG(std::string, reason);

ABSL_FLAG(std::string, jurisdiction, "",
          "admin register: the agency's jurisdiction id in the policy set, "
          "e.g. se.");
ABSL_FLAG(std::string, area, "",
          "admin register: the area the agency serves, used by the routing "
          "directory, e.g. malmo.");
ABSL_FLAG(std::string, display_name, "",
          "admin register: the agency's name shown to people.");
ABSL_FLAG(bool, public_authority, true,
          "admin register: whether the agency is a public authority; false "
          "for e.g. an NGO.");
ABSL_FLAG(std::string, privacy_officer, "",
          "admin register: contact of the agency's privacy officer, who "
          "receives override alerts; usually an email address.");
ABSL_FLAG(int, expiring_days, 0,
          "admin status: report certificates expiring within N days (0: the "
          "broker's default).");

namespace liaison::cli {
namespace {

constexpr char kUsageName[] = "admin";

using Args = std::vector<std::string>;
using Fields = std::vector<std::pair<std::string, std::string>>;
using Rows = std::vector<std::vector<std::string>>;

template <typename Request, typename Response>
using Method = grpc::Status (v1::Admin::Stub::*)(grpc::ClientContext*,
                                                 const Request&, Response*);

// What a change means for the agency, as the broker returned it.
using Happened = std::string (*)(const v1::Agency&);

std::string OrDash(const std::string& value) {
  return value.empty() ? "-" : value;
}

std::string Count(uint64_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// "label: value" lines, the values aligned after the longest label.
std::string Aligned(const Fields& fields) {
  size_t width = 0;
  for (const auto& field : fields) width = std::max(width, field.first.size());
  std::string out;
  for (const auto& field : fields) {
    absl::StrAppend(&out, field.first, ":",
                    std::string(width - field.first.size() + 1, ' '),
                    field.second, "\n");
  }
  return out;
}

// Rows as columns two spaces apart, each as wide as its widest cell.
std::string Columns(const Rows& rows, size_t indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    out.append(indent, ' ');
    for (size_t i = 0; i < row.size(); ++i) {
      out.append(row[i]);
      if (i + 1 < row.size()) out.append(widths[i] - row[i].size() + 2, ' ');
    }
    out.push_back('\n');
  }
  return out;
}

std::string StatusText(const v1::Agency& agency) {
  if (agency.status() != v1::AGENCY_STATUS_SUSPENDED) return "ACTIVE";
  return agency.status_reason().empty()
             ? "SUSPENDED"
             : absl::StrCat("SUSPENDED: ", agency.status_reason());
}

std::string DescribeAgency(const v1::Agency& agency) {
  return Aligned({
      {"agency", agency.id()},
      {"sector", OrDash(agency.sector())},
      {"status", StatusText(agency)},
      {"jurisdiction", OrDash(agency.jurisdiction())},
      {"area", OrDash(agency.area())},
      {"display name", OrDash(agency.display_name())},
      {"public authority", agency.public_authority() ? "yes" : "no"},
      {"privacy officer", OrDash(agency.privacy_officer_contact())},
      {"bound serials",
       agency.certificate_serials().empty()
           ? "none"
           : absl::StrJoin(agency.certificate_serials(), ", ")},
  });
}

// Connects and makes one Admin call.
template <typename Request, typename Response>
absl::StatusOr<Response> Call(const Invocation& in,
                              Method<Request, Response> method,
                              const Request& request) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, Connect(in));
  std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(channel);
  return Unary<Response>(in, [&](grpc::ClientContext* c, Response* r) {
    return (stub.get()->*method)(c, request, r);
  });
}

// Makes a call that changes an agency, prints the agency as the broker now
// holds it, then what `happened` says the change means.
template <typename Request>
int ChangeAgency(const Invocation& in, Method<Request, v1::Agency> method,
                 const Request& request, Happened happened) {
  absl::StatusOr<v1::Agency> agency = Call(in, method, request);
  if (!agency.ok()) return Fail(agency.status());
  std::cout << DescribeAgency(*agency) << happened(*agency) << std::endl;
  return 0;
}

std::string Trimmed(const std::string& value) {
  return std::string(absl::StripAsciiWhitespace(value));
}

int RunAgencies(const Invocation& in, const Args& /*args*/) {
  absl::StatusOr<v1::ListAgenciesResponse> list =
      Call(in, &v1::Admin::Stub::ListAgencies, v1::ListAgenciesRequest());
  if (!list.ok()) return Fail(list.status());
  for (const v1::Agency& agency : list->agencies()) {
    std::cout << DescribeAgency(agency) << "\n";
  }
  std::cout << Count(list->agencies_size(), "agency", "agencies") << std::endl;
  return 0;
}

int RunRegister(const Invocation& in, const Args& args) {
  const std::string sector = Trimmed(absl::GetFlag(FLAGS_sector));
  if (sector.empty()) {
    return Usage(kUsageName, "`admin register` needs --sector=SECTOR");
  }
  v1::RegisterAgencyRequest request;
  v1::Agency& agency = *request.mutable_agency();
  agency.set_id(args[0]);
  agency.set_sector(sector);
  agency.set_jurisdiction(absl::GetFlag(FLAGS_jurisdiction));
  agency.set_area(absl::GetFlag(FLAGS_area));
  agency.set_display_name(absl::GetFlag(FLAGS_display_name));
  agency.set_public_authority(absl::GetFlag(FLAGS_public_authority));
  agency.set_privacy_officer_contact(absl::GetFlag(FLAGS_privacy_officer));
  return ChangeAgency(
      in, &v1::Admin::Stub::RegisterAgency, request,
      [](const v1::Agency&) -> std::string {
        return "registered: the agency is active; until a serial is bound, "
               "any unrevoked certificate naming it is accepted";
      });
}

v1::SetAgencyStatusRequest StatusRequest(const Args& args) {
  v1::SetAgencyStatusRequest request;
  request.set_agency_id(args[0]);
  request.set_reason(Trimmed(absl::GetFlag(FLAGS_reason)));
  return request;
}

int RunSuspend(const Invocation& in, const Args& args) {
  const v1::SetAgencyStatusRequest request = StatusRequest(args);
  if (request.reason().empty()) {
    return Usage(kUsageName, "`admin suspend` needs --reason=TEXT");
  }
  return ChangeAgency(
      in, &v1::Admin::Stub::SuspendAgency, request,
      [](const v1::Agency&) -> std::string {
        return "suspended: its open streams were ended and its calls are "
               "refused until reactivated";
      });
}

int RunReactivate(const Invocation& in, const Args& args) {
  return ChangeAgency(in, &v1::Admin::Stub::ReactivateAgency,
                      StatusRequest(args),
                      [](const v1::Agency&) -> std::string {
                        return "reactivated: its calls are accepted again";
                      });
}

v1::BindCertificateRequest BindRequest(const Args& args) {
  v1::BindCertificateRequest request;
  request.set_agency_id(args[0]);
  request.set_serial(args[1]);
  return request;
}

int RunBind(const Invocation& in, const Args& args) {
  return ChangeAgency(in, &v1::Admin::Stub::BindCertificate, BindRequest(args),
                      [](const v1::Agency& agency) {
                        return absl::StrCat(
                            "bound: only bound serials are accepted for ",
                            agency.id());
                      });
}

int RunUnbind(const Invocation& in, const Args& args) {
  return ChangeAgency(
      in, &v1::Admin::Stub::UnbindCertificate, BindRequest(args),
      [](const v1::Agency& agency) {
        return agency.certificate_serials().empty()
                   ? std::string(
                         "no serial is bound now: any unrevoked certificate "
                         "naming the agency is accepted")
                   : absl::StrCat(
                         "unbound: only the serials still bound are "
                         "accepted for ",
                         agency.id());
      });
}

int RunRoutes(const Invocation& in, const Args& /*args*/) {
  absl::StatusOr<v1::ListRoutesResponse> list =
      Call(in, &v1::Admin::Stub::ListRoutes, v1::ListRoutesRequest());
  if (!list.ok()) return Fail(list.status());
  if (list->routes().empty()) {
    std::cout << "no routes are set" << std::endl;
    return 0;
  }
  Rows rows = {{"SECTOR", "AREA", "AGENCY"}};
  for (const v1::Route& route : list->routes()) {
    rows.push_back({route.sector(), route.area(), route.agency_id()});
  }
  std::cout << Columns(rows, 0) << Count(list->routes_size(), "route", "routes")
            << std::endl;
  return 0;
}

// The route a `route set` or `route remove` names.
v1::Route RouteOf(const Args& args) {
  v1::Route route;
  route.set_sector(args[0]);
  route.set_area(args[1]);
  if (args.size() > 2) route.set_agency_id(args[2]);
  return route;
}

int RunRouteSet(const Invocation& in, const Args& args) {
  absl::StatusOr<v1::Route> route =
      Call(in, &v1::Admin::Stub::SetRoute, RouteOf(args));
  if (!route.ok()) return Fail(route.status());
  std::cout << Aligned({{"sector", route->sector()},
                        {"area", route->area()},
                        {"agency", route->agency_id()}})
            << "set: what is addressed to " << route->sector() << " in "
            << route->area() << " goes to " << route->agency_id() << std::endl;
  return 0;
}

int RunRouteRemove(const Invocation& in, const Args& args) {
  const v1::Route route = RouteOf(args);
  absl::StatusOr<v1::RemoveRouteResponse> removed =
      Call(in, &v1::Admin::Stub::RemoveRoute, route);
  if (!removed.ok()) return Fail(removed.status());
  std::cout << "removed: no agency is routed for " << route.sector() << " in "
            << route.area() << " now" << std::endl;
  return 0;
}

// Has the broker reload through `method` and prints what it answered.
int Reload(const Invocation& in,
           Method<v1::ReloadRequest, v1::ReloadResponse> method) {
  absl::StatusOr<v1::ReloadResponse> reloaded =
      Call(in, method, v1::ReloadRequest());
  if (!reloaded.ok()) return Fail(reloaded.status());
  Fields fields;
  // Only a policy reload answers a version.
  if (!reloaded->version().empty()) {
    fields.push_back({"version", reloaded->version()});
  }
  fields.push_back({"detail", OrDash(reloaded->detail())});
  std::cout << Aligned(fields) << std::flush;
  return 0;
}

int RunReloadPolicy(const Invocation& in, const Args& /*args*/) {
  return Reload(in, &v1::Admin::Stub::ReloadPolicy);
}

int RunReloadCrl(const Invocation& in, const Args& /*args*/) {
  return Reload(in, &v1::Admin::Stub::ReloadCrl);
}

// The value of the "expiring" line; the certificates follow it.
std::string ExpiringSummary(const v1::BrokerStatus& status) {
  const std::string window =
      Count(status.expiring_within_days(), "day", "days");
  if (status.expiring_certificates().empty()) {
    return absl::StrCat("none expires within ", window);
  }
  return absl::StrCat(
      Count(status.expiring_certificates_size(), "certificate", "certificates"),
      " within ", window, ", soonest first:");
}

Rows ExpiringRows(const v1::BrokerStatus& status) {
  Rows rows = {{"SERIAL", "SUBJECT", "NOT AFTER"}};
  for (const auto& cert : status.expiring_certificates()) {
    rows.push_back({cert.serial(), cert.subject(),
                    client::Rfc3339(cert.not_after().seconds())});
  }
  return rows;
}

int RunStatus(const Invocation& in, const Args& /*args*/) {
  const int days = absl::GetFlag(FLAGS_expiring_days);
  if (days < 0) {
    return Usage(kUsageName,
                 "--expiring_days must be a number of days, or 0 for the "
                 "broker's default");
  }
  v1::GetStatusRequest request;
  request.set_expiring_within_days(static_cast<uint32_t>(days));
  absl::StatusOr<v1::BrokerStatus> status =
      Call(in, &v1::Admin::Stub::GetStatus, request);
  if (!status.ok()) return Fail(status.status());
  std::cout << Aligned({
      {"version", OrDash(status->version())},
      {"policy version", status->policy_version().empty()
                             ? "none loaded"
                             : status->policy_version()},
      {"log size", Count(status->log_size(), "entry", "entries")},
      {"started at", client::Rfc3339(status->started_at().seconds())},
      {"connected agencies",
       status->connected_agencies().empty()
           ? "none"
           : absl::StrJoin(status->connected_agencies(), ", ")},
      {"expiring", ExpiringSummary(*status)},
  });
  if (!status->expiring_certificates().empty()) {
    std::cout << Columns(ExpiringRows(*status), 2);
  }
  std::cout << std::flush;
  return 0;
}

struct AdminSubcommand {
  // The arguments after the subcommand's name, e.g. "ID SERIAL".
  const char* operands;
  // The command flags it takes.
  std::vector<std::string> flags;
  int (*run)(const Invocation&, const Args&);
};

const std::map<std::string, AdminSubcommand>& AdminSubcommands() {
  static const auto* subcommands = new std::map<std::string, AdminSubcommand>{
      {"agencies", {"", {}, RunAgencies}},
      {"register",
       {"ID",
        {"sector", "jurisdiction", "area", "display_name", "public_authority",
         "privacy_officer"},
        RunRegister}},
      {"suspend", {"ID", {"reason"}, RunSuspend}},
      {"reactivate", {"ID", {"reason"}, RunReactivate}},
      {"bind", {"ID SERIAL", {}, RunBind}},
      {"unbind", {"ID SERIAL", {}, RunUnbind}},
      {"routes", {"", {}, RunRoutes}},
      {"route set", {"SECTOR AREA AGENCY_ID", {}, RunRouteSet}},
      {"route remove", {"SECTOR AREA", {}, RunRouteRemove}},
      {"reload-policy", {"", {}, RunReloadPolicy}},
      {"reload-crl", {"", {}, RunReloadCrl}},
      {"status", {"", {"expiring_days"}, RunStatus}},
  };
  return *subcommands;
}

constexpr char kSubcommandNames[] =
    "agencies, register, suspend, reactivate, bind, unbind, routes, route "
    "set, route remove, reload-policy, reload-crl or status";

}  // namespace

const char kAdminHelp[] =
    R"(liaison admin: the broker's registry, routes and reloads (admin
certificates only).

Usage: liaison [connection flags] admin SUBCOMMAND [arguments] [flags]

  agencies                        list every agency
  register ID --sector=S [--jurisdiction=J] [--area=A] [--display_name=NAME]
           [--public_authority=true|false] [--privacy_officer=CONTACT]
                                  add an agency
  suspend ID --reason=TEXT        refuse the agency's calls
  reactivate ID [--reason=TEXT]   accept them again
  bind ID SERIAL                  accept only bound serials for the agency
  unbind ID SERIAL                remove a binding
  routes                          list the routing directory
  route set SECTOR AREA AGENCY_ID the agency serves SECTOR in AREA
  route remove SECTOR AREA        remove that routing entry
  reload-policy                   the broker re-reads its policy folder
  reload-crl                      the broker re-reads its CRL
  status [--expiring_days=N]      the broker's state, expiring certificates

agencies    every agency: id, sector, status (ACTIVE, or SUSPENDED with the
            reason), jurisdiction, area, display name, whether it is a
            public authority, privacy officer and bound serials.
register    adds an agency, ACTIVE. ID is the last segment of its
            certificates' URI, liaison://agency/SECTOR/ID. --sector is
            required; policy and routing use --jurisdiction (its id in the
            policy set, e.g. se) and --area (e.g. malmo). --public_authority
            is true unless given false (e.g. for an NGO). --privacy_officer
            is the contact that receives override alerts, usually an email
            address.
suspend     ends the agency's open streams and refuses its calls with
            PERMISSION_DENIED until it is reactivated. --reason is required
            and is shown to the agency's system on every refused call.
reactivate  makes the agency ACTIVE again and clears the reason; a --reason
            given is recorded in the log.
bind        binds a certificate serial, as `liaison-certs list` prints it,
            to the agency: once it has bindings, only bound serials are
            accepted for it. unbind removes one; with none left, any
            unrevoked certificate naming the agency is accepted again.
routes      the routing directory, SECTOR AREA AGENCY: which agency serves
            a sector in an area. route set adds or replaces an entry (the
            agency must be of that sector); route remove deletes one.
reload-policy
            the broker loads its policy folder and switches to it at once;
            prints the version now in force and a summary. When the set
            does not validate the broker answers its file:line problems and
            the policy in force stays.
reload-crl  the broker re-reads its CRL, as on SIGHUP, and ends the streams
            of certificates now revoked; prints a summary. On error the CRL
            in force stays.
status      the broker's version, policy version, log size, start time
            (RFC 3339, UTC), the agencies with an open inbox stream (or
            "none"), and the certificates expiring within --expiring_days
            days (default: the broker's, 30 unless configured), soonest
            first: serial, subject and end of validity; or "none expires
            within N days".

register, suspend, reactivate, bind and unbind print the agency as the
broker now holds it, then what the change means. Every change is recorded
in the disclosure log as an ADMIN entry; a request that changes nothing
records nothing.

Example:
  liaison admin register malmo-sc --sector=social_care --jurisdiction=se \
    --area=malmo --display_name="Malmo Social Services" \
    --privacy_officer=dpo@malmo.se
  liaison admin bind malmo-sc 3F2A91C0
  liaison admin route set social_care malmo malmo-sc
  liaison admin status --expiring_days=60
)";

std::vector<std::string> AdminFlags() {
  return {"sector",           "jurisdiction",    "area",   "display_name",
          "public_authority", "privacy_officer", "reason", "expiring_days"};
}

int RunAdmin(const Invocation& in) {
  if (in.args.empty()) {
    return Usage(kUsageName,
                 absl::StrCat("name a subcommand: ", kSubcommandNames));
  }
  // `route set` and `route remove` are named by two words.
  const size_t words = in.args[0] == "route" && in.args.size() > 1 ? 2 : 1;
  const std::string name =
      absl::StrJoin(in.args.begin(), in.args.begin() + words, " ");
  auto it = AdminSubcommands().find(name);
  if (it == AdminSubcommands().end()) {
    return Usage(kUsageName,
                 in.args[0] == "route"
                     ? std::string("`admin route` takes set SECTOR AREA "
                                   "AGENCY_ID or remove SECTOR AREA")
                     : absl::StrCat("unknown subcommand \"", in.args[0],
                                    "\"; name one of ", kSubcommandNames));
  }
  const AdminSubcommand& sub = it->second;
  for (const std::string& flag : in.flags_given) {
    if (std::find(sub.flags.begin(), sub.flags.end(), flag) ==
        sub.flags.end()) {
      return Usage(kUsageName,
                   absl::StrCat("`admin ", name, "` does not take --", flag));
    }
  }
  const Args args(in.args.begin() + words, in.args.end());
  const std::vector<absl::string_view> expected =
      absl::StrSplit(sub.operands, ' ', absl::SkipEmpty());
  if (args.size() != expected.size()) {
    return Usage(kUsageName,
                 expected.empty()
                     ? absl::StrCat("`admin ", name, "` takes no arguments")
                     : absl::StrCat("`admin ", name, "` takes ", sub.operands));
  }
  return sub.run(in, args);
}

}  // namespace liaison::cli
