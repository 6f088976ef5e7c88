#include "clients/exchange_commands.h"

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/principal.h"
#include "clients/exchange_text.h"
#include "clients/request_files.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "liaison/v1/identity.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, reason);
ABSL_DECLARE_FLAG(std::string, question);
ABSL_DECLARE_FLAG(std::string, basis_file);
ABSL_DECLARE_FLAG(std::string, checklist_file);
ABSL_DECLARE_FLAG(std::string, outcome);
ABSL_DECLARE_FLAG(std::string, feedback_duty);

namespace liaison::cli {
namespace {

// Reads the request in the command's one FILE, sets its idempotency key
// (ChooseKey) and calls `method`. On any failure prints why and returns the
// exit status; on success fills `*response` and says in `*key_source`
// where the key came from.
template <typename Request, typename Response>
std::optional<int> CallWithFile(
    const Invocation& in, Request* request, Response* response,
    std::string* key_source,
    grpc::Status (v1::Exchange::Stub::*method)(grpc::ClientContext*,
                                               const Request&, Response*)) {
  if (in.args.size() != 1) return Usage(in.command, "give exactly one FILE");
  const std::string& path = in.args[0];
  int exit_code = 0;
  std::optional<std::string> sha = ReadFileFor(path, request, &exit_code);
  if (!sha) return exit_code;
  *key_source = ChooseKey(request->mutable_idempotency_key(), *sha, path);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<Response> result =
      Unary<Response>(in, [&](grpc::ClientContext* c, Response* r) {
        return ((*stub).*method)(c, *request, r);
      });
  if (!result.ok()) return Fail(result.status());
  *response = *std::move(result);
  return std::nullopt;
}

// `referral` subcommands that change the status: the status they set and
// the flag carrying the detail the broker requires, if any.
struct ReferralMove {
  v1::ReferralStatus status;
  const char* detail_flag;  // nullptr when no detail is needed
};

const std::map<std::string, ReferralMove>& ReferralMoves() {
  static const auto* moves = new std::map<std::string, ReferralMove>{
      {"ack", {v1::REFERRAL_STATUS_ACKNOWLEDGED, nullptr}},
      {"accept", {v1::REFERRAL_STATUS_ACCEPTED, nullptr}},
      {"decline", {v1::REFERRAL_STATUS_DECLINED, "reason"}},
      {"info", {v1::REFERRAL_STATUS_INFO_REQUESTED, "question"}},
      {"close", {v1::REFERRAL_STATUS_CLOSED, "outcome"}},
  };
  return *moves;
}

std::string DetailFlagValue(const std::string& name) {
  if (name == "reason") return absl::GetFlag(FLAGS_reason);
  if (name == "question") return absl::GetFlag(FLAGS_question);
  return absl::GetFlag(FLAGS_outcome);
}

}  // namespace

int RunWhoAmI(const Invocation& in) {
  if (!in.args.empty()) {
    return Usage("whoami",
                 absl::StrCat("unexpected argument \"", in.args[0], "\""));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Identity::NewStub(*channel);
  // The broker's certificate, as this connection saw it, is shown too, so
  // an operator can tell which one a rotation left in force.
  std::string broker_serial;
  absl::StatusOr<v1::WhoAmIResponse> response = Unary<v1::WhoAmIResponse>(
      in, [&](grpc::ClientContext* c, v1::WhoAmIResponse* r) {
        grpc::Status s = stub->WhoAmI(c, v1::WhoAmIRequest(), r);
        broker_serial = liaison::client::PeerCertificateSerial(*c);
        return s;
      });
  if (!response.ok()) return Fail(response.status());
  const v1::Principal& p = response->principal();
  std::cout << "principal:    " << p.uri() << "\n"
            << "kind:         " << liaison::KindName(p.kind()) << "\n"
            << "id:           " << p.id() << "\n";
  if (!p.sector().empty()) std::cout << "sector:       " << p.sector() << "\n";
  if (!p.display_name().empty()) {
    std::cout << "name:         " << p.display_name() << "\n";
  }
  if (!p.jurisdiction().empty()) {
    std::cout << (p.kind() == v1::PRINCIPAL_KIND_AUDITOR ? "scope:        "
                                                         : "jurisdiction: ")
              << p.jurisdiction() << "\n";
  }
  std::cout << "certificate:  serial " << p.certificate_serial()
            << ", valid until "
            << liaison::client::Rfc3339(p.certificate_not_after().seconds())
            << "\n"
            << "broker:       liaison-broker " << response->broker_version()
            << " at " << in.connection.address
            << (broker_serial.empty() ? ""
                                      : ", certificate serial " + broker_serial)
            << std::endl;
  return 0;
}

int RunSendReferral(const Invocation& in) {
  v1::SendReferralRequest request;
  v1::SendReferralResponse response;
  std::string key_source;
  if (std::optional<int> failed =
          CallWithFile(in, &request, &response, &key_source,
                       &v1::Exchange::Stub::SendReferral)) {
    return *failed;
  }
  const v1::SendReferralResponse* sent = &response;
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << "referral:        " << sent->referral_id() << "\n"
            << "case:            " << sent->case_id()
            << (request.case_id().empty() ? " (opened)" : "") << "\n"
            << "recipient:       " << sent->recipient_agency_id() << "\n"
            << "level:           " << liaison::client::LevelName(sent->level())
            << "\n"
            << "log sequence:    " << sent->log_sequence() << "\n"
            << "policy version:  " << sent->policy_version() << std::endl;
  return 0;
}

int RunPushSummary(const Invocation& in) {
  v1::PushSummaryRequest request;
  v1::PushSummaryResponse response;
  std::string key_source;
  if (std::optional<int> failed =
          CallWithFile(in, &request, &response, &key_source,
                       &v1::Exchange::Stub::PushSummary)) {
    return *failed;
  }
  const v1::PushSummaryResponse* pushed = &response;
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << "summary:         " << pushed->summary_id() << "\n"
            << "case:            " << request.case_id() << "\n";
  if (pushed->deliveries().empty()) {
    std::cout << "deliveries:      none: no other agency is attached to the "
                 "case\n";
  }
  for (const auto& d : pushed->deliveries()) {
    std::cout << "  " << d.agency_id() << ": "
              << (d.level() == v1::LEVEL_NONE
                      ? absl::StrCat("not sent: ", d.reason())
                      : absl::StrCat("sent at ",
                                     liaison::client::LevelName(d.level())))
              << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int RunRequestSummary(const Invocation& in) {
  v1::RequestSummaryRequest request;
  v1::RequestSummaryResponse response;
  std::string key_source;
  if (std::optional<int> failed =
          CallWithFile(in, &request, &response, &key_source,
                       &v1::Exchange::Stub::RequestSummary)) {
    return *failed;
  }
  const v1::RequestSummaryResponse* asked = &response;
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << "request:         " << asked->request_id() << "\n"
            << "holder:          " << asked->holder_agency_id() << "\n"
            << "The answer arrives in your inbox as a summary naming this "
               "request."
            << std::endl;
  return 0;
}

int RunAnswerSummary(const Invocation& in) {
  if (in.args.size() != 2) {
    return Usage("answer-summary", "give REQUEST_ID and one FILE");
  }
  v1::AnswerSummaryRequestRequest request;
  request.set_request_id(in.args[0]);
  int exit_code = 0;
  if (!ReadFileFor(in.args[1], request.mutable_record(), &exit_code)) {
    return exit_code;
  }
  if (const std::string basis = absl::GetFlag(FLAGS_basis_file);
      !basis.empty() &&
      !ReadFileFor(basis, request.mutable_basis(), &exit_code)) {
    return exit_code;
  }
  if (const std::string checklist = absl::GetFlag(FLAGS_checklist_file);
      !checklist.empty() &&
      !ReadFileFor(checklist, request.mutable_checklist(), &exit_code)) {
    return exit_code;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::AnswerSummaryRequestResponse> answered =
      Unary<v1::AnswerSummaryRequestResponse>(
          in, [&](grpc::ClientContext* c, v1::AnswerSummaryRequestResponse* r) {
            return stub->AnswerSummaryRequest(c, request, r);
          });
  if (!answered.ok()) return Fail(answered.status());
  std::cout << "request:  " << request.request_id() << " answered\n"
            << "level:    " << liaison::client::LevelName(answered->level())
            << " (what the requester receives)" << std::endl;
  return 0;
}

int RunReferral(const Invocation& in) {
  if (in.args.empty()) {
    return Usage("referral",
                 "name a subcommand: show, ack, accept, decline, info, "
                 "close or recall");
  }
  const std::string& sub = in.args[0];
  auto move = ReferralMoves().find(sub);
  if (sub != "show" && sub != "recall" && move == ReferralMoves().end()) {
    return Usage("referral", absl::StrCat("unknown subcommand \"", sub, "\""));
  }
  if (in.args.size() != 2) {
    return Usage("referral",
                 absl::StrCat("`referral ", sub, "` takes exactly one ID"));
  }
  const std::string detail_flag =
      move == ReferralMoves().end() || move->second.detail_flag == nullptr
          ? ""
          : move->second.detail_flag;
  for (const std::string& flag : in.flags_given) {
    if (flag != detail_flag &&
        !(flag == "feedback_duty" && sub != "show" && sub != "recall") &&
        !(flag == "reason" && sub == "recall")) {
      return Usage("referral",
                   absl::StrCat("`referral ", sub, "` does not take --", flag));
    }
  }
  std::string detail;
  if (!detail_flag.empty()) {
    detail = DetailFlagValue(detail_flag);
    if (detail.empty()) {
      return Usage("referral", absl::StrCat("`referral ", sub, "` needs --",
                                            detail_flag, "=TEXT"));
    }
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Referral> referral;
  if (sub == "recall") {
    v1::RecallReferralRequest request;
    request.set_referral_id(in.args[1]);
    request.set_reason(static_cast<v1::RecallReason>(
        EnumValue(v1::RecallReason_descriptor(), "RECALL_REASON_",
                  absl::GetFlag(FLAGS_reason))));
    if (request.reason() == v1::RECALL_REASON_UNSPECIFIED) {
      return Usage(
          "referral",
          absl::StrCat("`referral recall` needs --reason=WORD, one of ",
                       Words(v1::RecallReason_descriptor(), "RECALL_REASON_")));
    }
    referral =
        Unary<v1::Referral>(in, [&](grpc::ClientContext* c, v1::Referral* r) {
          return stub->RecallReferral(c, request, r);
        });
  } else if (sub == "show") {
    v1::GetReferralRequest request;
    request.set_referral_id(in.args[1]);
    referral =
        Unary<v1::Referral>(in, [&](grpc::ClientContext* c, v1::Referral* r) {
          return stub->GetReferral(c, request, r);
        });
  } else {
    v1::UpdateReferralRequest request;
    request.set_referral_id(in.args[1]);
    request.set_status(move->second.status);
    request.set_detail(detail);
    if (const std::string duty = absl::GetFlag(FLAGS_feedback_duty);
        !duty.empty()) {
      request.mutable_basis()->set_statutory_duty(duty);
    }
    referral =
        Unary<v1::Referral>(in, [&](grpc::ClientContext* c, v1::Referral* r) {
          return stub->UpdateReferral(c, request, r);
        });
  }
  if (!referral.ok()) return Fail(referral.status());
  std::cout << liaison::client::DescribeReferral(*referral) << std::flush;
  return 0;
}

}  // namespace liaison::cli
