// liaison-certs: the administrator's tool for a deployment's private CA.
// Exit codes: 0 success; 1 the operation was refused or failed (bad sector
// or id, no CA, existing files, unknown serial, I/O); 2 the command line
// could not be understood (unknown command or flag, missing argument, a flag
// value of the wrong form). Errors go to stderr prefixed "liaison-certs: ".
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "broker/basics/command_line.h"
#include "certs/certs_command.h"
#include "certs/certs_help.h"
#include "certs/issue_commands.h"
#include "certs/listing_commands.h"
#include "certs/revocation_commands.h"

namespace liaison::certs {
namespace {

using cli::CommandLine;
using cli::FlagSpec;
using cli::FlagType;

// The flags this tool defines.
constexpr FlagSpec kFlagSpecs[] = {
    {"dir", FlagType::kString},    {"cn", FlagType::kString},
    {"days", FlagType::kInt},      {"sector", FlagType::kString},
    {"id", FlagType::kString},     {"not_before", FlagType::kString},
    {"out", FlagType::kString},    {"force", FlagType::kBool},
    {"dns", FlagType::kString},    {"ip", FlagType::kString},
    {"reason", FlagType::kString}, {"expiring", FlagType::kInt},
};

CommandLine Scan(int argc, char** argv) {
  return cli::ScanCommandLine(argc, argv, kFlagSpecs);
}

int Run(int argc, char** argv) {
  // A bare --expiring (no "=", no number after it) means the default window.
  std::vector<std::string> storage(argv, argv + argc);
  for (size_t i = 1; i < storage.size(); ++i) {
    if (storage[i] != "--expiring" && storage[i] != "-expiring") continue;
    int days = 0;
    if (i + 1 < storage.size() && absl::SimpleAtoi(storage[i + 1], &days)) {
      continue;
    }
    storage[i] = "--expiring=30";
  }
  std::vector<char*> args;
  for (std::string& a : storage) args.push_back(a.data());
  argc = static_cast<int>(args.size());
  argv = args.data();
  const CommandLine cl = Scan(argc, argv);
  if (cl.positional.empty()) {
    if (cl.help) {
      std::cout << kGeneralHelp;
      return 0;
    }
    return UsageError(cl.error.empty() ? "missing COMMAND" : cl.error);
  }
  const std::string& name = cl.positional[0];
  if (name == "help") {
    if (cl.help && cl.positional.size() == 1) {
      std::cout << FindCommand("help")->help;
      return 0;
    }
    if (cl.positional.size() > 2) {
      return UsageError("help takes at most one COMMAND", "help");
    }
    if (cl.positional.size() == 1) {
      std::cout << kGeneralHelp;
      return 0;
    }
    const Command* command = FindCommand(cl.positional[1]);
    if (command == nullptr) {
      return UsageError(
          absl::StrCat("unknown command \"", cl.positional[1], "\""));
    }
    std::cout << command->help;
    return 0;
  }
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    return UsageError(absl::StrCat("unknown command \"", name, "\""));
  }
  if (cl.help) {
    std::cout << command->help;
    return 0;
  }
  if (!cl.error.empty()) return UsageError(cl.error, name);
  for (const std::string& flag : cl.flags) {
    if (flag == "dir") continue;
    if (std::find(command->flags.begin(), command->flags.end(), flag) ==
        command->flags.end()) {
      return UsageError(absl::StrCat("--", flag, " does not apply to ", name),
                        name);
    }
  }
  absl::ParseCommandLine(argc, argv);
  if (cl.flags.count("dir") != 0 && absl::GetFlag(FLAGS_dir).empty()) {
    return UsageError("--dir needs a directory", name);
  }

  if (name == "init") {
    if (cl.positional.size() > 1) {
      return UsageError(
          absl::StrCat("unexpected argument \"", cl.positional[1], "\""),
          "init");
    }
    return RunInit(cl);
  }
  if (name == "issue") return RunIssue(cl);
  if (name == "renew") return RunRenew(cl);
  if (name == "revoke") return RunRevoke(cl);
  if (name == "crl") return RunCrl(cl);
  if (name == "list") return RunList(cl);
  return RunInspect(cl);
}

}  // namespace
}  // namespace liaison::certs

int main(int argc, char** argv) { return liaison::certs::Run(argc, argv); }
