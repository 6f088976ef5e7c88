#include "clients/consent_commands.h"

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "clients/exchange_text.h"
#include "clients/request_files.h"
#include "liaison/v1/exchange.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, reason);

namespace liaison::cli {
namespace {

// Records the consent in FILE, or with `refuse` a refusal. The file is a
// Consent rather than a request, so the key is chosen as for the other file
// commands but with no key of the file's own.
int RunConsentRecord(const Invocation& in, bool refuse) {
  const std::string& path = in.args[1];
  v1::RecordConsentRequest request;
  int exit_code = 0;
  std::optional<std::string> sha =
      ReadFileFor(path, request.mutable_consent(), &exit_code);
  if (!sha) return exit_code;
  // The subcommand, not a field a reader may overlook, says which is meant:
  // a refusal sent as `record` would block the very sharing the
  // professional meant to allow.
  if (!refuse && request.consent().refused()) {
    return Usage("consent",
                 absl::StrCat(path,
                              " sets refused: true; record a refusal with "
                              "`liaison consent refuse ",
                              path, "`"));
  }
  request.mutable_consent()->set_refused(refuse);
  const std::string key_source =
      ChooseKey(request.mutable_idempotency_key(), *sha, path);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Consent> recorded =
      Unary<v1::Consent>(in, [&](grpc::ClientContext* c, v1::Consent* r) {
        return stub->RecordConsent(c, request, r);
      });
  if (!recorded.ok()) return Fail(recorded.status());
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << liaison::client::DescribeConsent(*recorded) << std::flush;
  return 0;
}

int RunConsentWithdraw(const Invocation& in) {
  const std::string reason = absl::GetFlag(FLAGS_reason);
  if (reason.empty()) {
    return Usage("consent", "`consent withdraw` needs --reason=TEXT");
  }
  v1::WithdrawConsentRequest request;
  request.set_consent_id(in.args[1]);
  request.set_reason(reason);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Consent> withdrawn =
      Unary<v1::Consent>(in, [&](grpc::ClientContext* c, v1::Consent* r) {
        return stub->WithdrawConsent(c, request, r);
      });
  if (!withdrawn.ok()) return Fail(withdrawn.status());
  std::cout << liaison::client::DescribeConsent(*withdrawn);
  // Nothing was shared under a refusal, so there is nothing to recall.
  if (withdrawn->refused()) {
    std::cout << "The refusal has ended; sharing between these parties "
                 "needs a new consent or another basis."
              << std::endl;
  } else {
    std::cout << "Recall notices went to every agency that received data "
                 "under this consent, naming the inbox messages to recall."
              << std::endl;
  }
  return 0;
}

int RunConsentShow(const Invocation& in) {
  v1::GetConsentRequest request;
  request.set_consent_id(in.args[1]);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Consent> consent =
      Unary<v1::Consent>(in, [&](grpc::ClientContext* c, v1::Consent* r) {
        return stub->GetConsent(c, request, r);
      });
  if (!consent.ok()) return Fail(consent.status());
  std::cout << liaison::client::DescribeConsent(*consent) << std::flush;
  return 0;
}

// `consent` subcommands, what their one argument is, and the command flag
// each accepts, if any.
struct ConsentSubcommand {
  const char* argument;
  const char* flag;  // nullptr when it takes none
};

const std::map<std::string, ConsentSubcommand>& ConsentSubcommands() {
  static const auto* subcommands = new std::map<std::string, ConsentSubcommand>{
      {"record", {"FILE", "idempotency_key"}},
      {"refuse", {"FILE", "idempotency_key"}},
      {"withdraw", {"CONSENT_ID", "reason"}},
      {"show", {"CONSENT_ID", nullptr}},
  };
  return *subcommands;
}

}  // namespace

int RunConsent(const Invocation& in) {
  if (in.args.empty()) {
    return Usage("consent",
                 "name a subcommand: record, refuse, withdraw or show");
  }
  const std::string& sub = in.args[0];
  auto it = ConsentSubcommands().find(sub);
  if (it == ConsentSubcommands().end()) {
    return Usage("consent", absl::StrCat("unknown subcommand \"", sub, "\""));
  }
  const std::string accepted =
      it->second.flag == nullptr ? "" : it->second.flag;
  for (const std::string& flag : in.flags_given) {
    if (flag != accepted) {
      return Usage("consent",
                   absl::StrCat("`consent ", sub, "` does not take --", flag));
    }
  }
  if (in.args.size() != 2) {
    return Usage("consent",
                 absl::StrCat("`consent ", sub, "` takes exactly one ",
                              it->second.argument));
  }
  if (sub == "record" || sub == "refuse") {
    return RunConsentRecord(in, /*refuse=*/sub == "refuse");
  }
  if (sub == "withdraw") return RunConsentWithdraw(in);
  return RunConsentShow(in);
}

}  // namespace liaison::cli
