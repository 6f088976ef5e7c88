#include "clients/case_commands.h"

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "clients/exchange_text.h"
#include "liaison/v1/exchange.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, reason);
ABSL_DECLARE_FLAG(std::string, outcome);
ABSL_DECLARE_FLAG(std::string, note);

namespace liaison::cli {
std::string Words(const google::protobuf::EnumDescriptor* type,
                  absl::string_view prefix) {
  std::vector<std::string> words;
  for (int i = 1; i < type->value_count(); ++i) {
    words.push_back(absl::AsciiStrToLower(
        absl::StripPrefix(type->value(i)->name(), prefix)));
  }
  return absl::StrJoin(words, ", ");
}

int EnumValue(const google::protobuf::EnumDescriptor* type,
              absl::string_view prefix, const std::string& word) {
  const google::protobuf::EnumValueDescriptor* v =
      type->FindValueByName(absl::StrCat(prefix, absl::AsciiStrToUpper(word)));
  return v == nullptr ? 0 : v->number();
}

int RunCase(const Invocation& in) {
  if (in.args.empty()) {
    return Usage("case", "name a subcommand: show, handover, close or detach");
  }
  const std::string& sub = in.args[0];
  const size_t want = sub == "show" || sub == "close" ? 2 : 3;
  if (sub != "show" && sub != "close" && sub != "detach" && sub != "handover") {
    return Usage("case", absl::StrCat("unknown subcommand \"", sub, "\""));
  }
  if (in.args.size() != want) {
    return Usage(
        "case", want == 2
                    ? absl::StrCat("`case ", sub, "` takes exactly one CASE_ID")
                    : absl::StrCat("`case ", sub, "` takes CASE_ID AGENCY_ID"));
  }
  const char* flag = sub == "close"      ? "outcome"
                     : sub == "detach"   ? "reason"
                     : sub == "handover" ? "note"
                                         : nullptr;
  for (const std::string& given : in.flags_given) {
    if (flag == nullptr || given != flag) {
      return Usage("case",
                   absl::StrCat("`case ", sub, "` does not take --", given));
    }
  }
  const std::string& case_id = in.args[1];
  const std::string agency_id = want == 3 ? in.args[2] : "";
  v1::CloseCaseRequest close;
  v1::DetachFromCaseRequest detach;
  v1::HandOverCaseRequest handover;
  if (sub == "close") {
    const std::string word = absl::GetFlag(FLAGS_outcome);
    close.set_case_id(case_id);
    close.set_outcome(static_cast<v1::CaseOutcome>(
        EnumValue(v1::CaseOutcome_descriptor(), "CASE_OUTCOME_", word)));
    if (close.outcome() == v1::CASE_OUTCOME_UNSPECIFIED) {
      return Usage(
          "case",
          absl::StrCat("`case close` needs --outcome=WORD, one of ",
                       Words(v1::CaseOutcome_descriptor(), "CASE_OUTCOME_")));
    }
  } else if (sub == "detach") {
    const std::string word = absl::GetFlag(FLAGS_reason);
    detach.set_case_id(case_id);
    detach.set_agency_id(agency_id);
    detach.set_reason(static_cast<v1::DetachReason>(
        EnumValue(v1::DetachReason_descriptor(), "DETACH_REASON_", word)));
    if (detach.reason() == v1::DETACH_REASON_UNSPECIFIED) {
      return Usage(
          "case",
          absl::StrCat("`case detach` needs --reason=WORD, one of ",
                       Words(v1::DetachReason_descriptor(), "DETACH_REASON_")));
    }
  } else if (sub == "handover") {
    handover.set_case_id(case_id);
    handover.set_to_agency_id(agency_id);
    handover.set_note(absl::GetFlag(FLAGS_note));
    if (handover.note().empty()) {
      return Usage("case", "`case handover` needs --note=TEXT for the record");
    }
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Case> kase =
      Unary<v1::Case>(in, [&](grpc::ClientContext* c, v1::Case* out) {
        if (sub == "close") return stub->CloseCase(c, close, out);
        if (sub == "detach") return stub->DetachFromCase(c, detach, out);
        if (sub == "handover") return stub->HandOverCase(c, handover, out);
        v1::GetCaseRequest get;
        get.set_case_id(case_id);
        return stub->GetCase(c, get, out);
      });
  if (!kase.ok()) return Fail(kase.status());
  std::cout << liaison::client::DescribeCase(*kase) << std::flush;
  return 0;
}

}  // namespace liaison::cli
