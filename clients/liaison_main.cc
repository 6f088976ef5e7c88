// liaison: the command line for agency systems, auditors and administrators.
// Here: the flags, the table of commands and the dispatch to them; each
// group of commands lives in its own file.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/command_line.h"
#include "clients/admin_commands.h"
#include "clients/audit_commands.h"
#include "clients/case_commands.h"
#include "clients/cli.h"
#include "clients/consent_commands.h"
#include "clients/exchange_commands.h"
#include "clients/inbox_commands.h"
#include "clients/liaison_help.h"

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

ABSL_FLAG(std::string, broker, EnvOr("LIAISON_BROKER", "127.0.0.1:7443"),
          "Broker address host:port (env LIAISON_BROKER).");
ABSL_FLAG(std::string, cert, EnvOr("LIAISON_CERT", ""),
          "Your certificate, PEM (env LIAISON_CERT).");
ABSL_FLAG(std::string, key, EnvOr("LIAISON_KEY", ""),
          "Your private key, PEM (env LIAISON_KEY).");
ABSL_FLAG(std::string, ca, EnvOr("LIAISON_CA", ""),
          "The deployment CA certificate, PEM (env LIAISON_CA).");
ABSL_FLAG(std::string, server_name, "",
          "Name to check the broker's certificate against (default: the host "
          "in --broker).");
ABSL_FLAG(double, timeout_seconds, 10, "Deadline for each call.");
ABSL_FLAG(std::string, professional_id, EnvOr("LIAISON_PROFESSIONAL_ID", ""),
          "The professional acting, e.g. a staff number; recorded with every "
          "call (env LIAISON_PROFESSIONAL_ID).");
ABSL_FLAG(std::string, professional_role,
          EnvOr("LIAISON_PROFESSIONAL_ROLE", ""),
          "That professional's role, e.g. \"duty social worker\" (env "
          "LIAISON_PROFESSIONAL_ROLE).");

// Flags of single commands; main refuses them with any other command.
ABSL_FLAG(std::string, idempotency_key, "",
          "send-referral, push-summary, request-summary, manual-disclosure, "
          "consent record and consent refuse: the idempotency key (default: "
          "the file's, else the SHA-256 of the file).");
ABSL_FLAG(bool, follow, false,
          "inbox: keep streaming and acknowledge each message once printed.");
ABSL_FLAG(int, lease_seconds, 0,
          "inbox: lease on each message delivered, seconds (0: the broker's "
          "default).");
ABSL_FLAG(std::string, reason, "",
          "referral decline: why; consent withdraw: why the consent is "
          "withdrawn; case detach: why the agency leaves, e.g. "
          "no_longer_involved.");
ABSL_FLAG(std::string, question, "", "referral info: the information needed.");
ABSL_FLAG(std::string, basis_file, "",
          "answer-summary: your agency's own legal basis for answering, a "
          "liaison.v1.LegalBasis in text format (e.g. your override).");
ABSL_FLAG(std::string, checklist_file, "",
          "answer-summary: your pre-sharing checklist, a "
          "liaison.v1.PreSharingChecklist in text format (required of "
          "health by the default policy).");
ABSL_FLAG(std::string, outcome, "",
          "referral close: the outcome; case close: how the case ended, "
          "e.g. support_in_place.");
ABSL_FLAG(std::string, note, "", "case handover: the handover note.");
ABSL_FLAG(std::string, feedback_duty, "",
          "referral moves: the statutory duty (its id in the agreement) on "
          "which the sender is told of the change; default: the consent the "
          "referral was sent under.");

namespace liaison::cli {
namespace {

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"whoami", {kWhoAmIHelp, {}, RunWhoAmI}},
      {"send-referral",
       {kSendReferralHelp, {"idempotency_key"}, RunSendReferral}},
      {"push-summary", {kPushSummaryHelp, {"idempotency_key"}, RunPushSummary}},
      {"request-summary",
       {kRequestSummaryHelp, {"idempotency_key"}, RunRequestSummary}},
      {"answer-summary",
       {kAnswerSummaryHelp,
        {"basis_file", "checklist_file"},
        RunAnswerSummary}},
      {"inbox", {kInboxHelp, {"follow", "lease_seconds"}, RunInbox}},
      {"ack", {kAckHelp, {}, RunAck}},
      {"referral",
       {kReferralHelp,
        {"reason", "question", "outcome", "feedback_duty"},
        RunReferral}},
      {"manual-disclosure",
       {kManualDisclosureHelp, {"idempotency_key"}, RunManualDisclosure}},
      {"consent", {kConsentHelp, {"idempotency_key", "reason"}, RunConsent}},
      {"case", {kCaseHelp, {"outcome", "reason", "note"}, RunCase}},
      {"audit", {kAuditHelp, AuditFlags(), RunAudit}},
      {"admin", {kAdminHelp, AdminFlags(), RunAdmin}},
  };
  return *commands;
}

}  // namespace
}  // namespace liaison::cli

int main(int argc, char** argv) {
  using liaison::cli::Commands;
  using liaison::cli::Invocation;
  using liaison::cli::kLiaisonHelp;
  using liaison::cli::Usage;

  // Help, anywhere on the line, is answered before flags are parsed, so it
  // works with any other flags; values are left to Abseil's parsing below.
  const std::vector<liaison::cli::FlagSpec> specs =
      liaison::cli::RegisteredFlags();
  const liaison::cli::CommandLine line =
      liaison::cli::ScanCommandLine(argc, argv, specs);
  std::string command;
  bool help = line.help;
  for (const std::string& word : line.positional) {
    if (word == "help") {
      help = true;
    } else if (command.empty()) {
      command = word;
    }
  }
  if (help) {
    auto it = Commands().find(command);
    std::cout << (it == Commands().end() ? kLiaisonHelp : it->second.help);
    return 0;
  }
  if (!line.unknown.empty()) {
    std::cerr << "liaison: unknown flag \"" << line.unknown
              << "\"; run `liaison help`" << std::endl;
    return 2;
  }
  const std::set<std::string>& given = line.flags;
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() < 2) {
    std::cerr << kLiaisonHelp;
    return 2;
  }
  auto it = Commands().find(rest[1]);
  if (it == Commands().end()) {
    std::cerr << "liaison: unknown command \"" << rest[1]
              << "\"; run `liaison help` for the list" << std::endl;
    return 2;
  }
  Invocation in;
  in.command = rest[1];
  in.args.assign(rest.begin() + 2, rest.end());
  std::set<std::string> command_flags;
  for (const auto& [name, c] : Commands()) {
    command_flags.insert(c.flags.begin(), c.flags.end());
  }
  for (const std::string& flag : given) {
    if (command_flags.count(flag) == 0) continue;
    const std::vector<std::string>& accepted = it->second.flags;
    if (std::find(accepted.begin(), accepted.end(), flag) == accepted.end()) {
      return Usage(in.command,
                   absl::StrCat("`", in.command, "` does not take --", flag));
    }
    in.flags_given.insert(flag);
  }
  in.connection.address = absl::GetFlag(FLAGS_broker);
  in.connection.cert_path = absl::GetFlag(FLAGS_cert);
  in.connection.key_path = absl::GetFlag(FLAGS_key);
  in.connection.ca_path = absl::GetFlag(FLAGS_ca);
  in.connection.server_name = absl::GetFlag(FLAGS_server_name);
  in.professional.set_id(absl::GetFlag(FLAGS_professional_id));
  in.professional.set_role(absl::GetFlag(FLAGS_professional_role));
  const double timeout = absl::GetFlag(FLAGS_timeout_seconds);
  if (!(timeout > 0)) {
    std::cerr << "liaison: --timeout_seconds must be positive" << std::endl;
    return 2;
  }
  in.timeout = absl::Seconds(timeout);
  for (const auto& [value, name] :
       {std::pair{&in.connection.cert_path, "--cert"},
        std::pair{&in.connection.key_path, "--key"},
        std::pair{&in.connection.ca_path, "--ca"}}) {
    if (value->empty()) {
      std::cerr << "liaison: " << name
                << " is required (or set the environment variable); see "
                   "`liaison help`"
                << std::endl;
      return 2;
    }
  }
  return it->second.run(in);
}
