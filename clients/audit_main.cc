// liaison-audit: the auditor's offline tool for the disclosure log. It reads
// files only and never contacts a broker.
// Exit codes: 0 the export verified; 1 it did not (a problem is reported with
// the export's file name, line and the first bad sequence number); 2 the
// command line could not be understood or an input could not be read or
// parsed. Errors go to stderr prefixed "liaison-audit: ".
#include <algorithm>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "broker/basics/command_line.h"
#include "broker/basics/time_format.h"
#include "broker/log/message_util.h"
#include "broker/log/tree_head.h"
#include "broker/log/verify.h"

ABSL_FLAG(std::string, export, "",
          "verify: the export file written by `liaison audit export`");
ABSL_FLAG(std::string, public_key, "",
          "verify: the broker's log public key (PEM or base64) to check "
          "signatures with");
ABSL_FLAG(std::vector<std::string>, known_head, {},
          "verify: tree heads saved earlier, in protobuf JSON; repeatable");

namespace liaison::audit {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kGeneralHelp[] =
    R"(liaison-audit: check a Liaison disclosure log offline.

Usage: liaison-audit COMMAND [FLAGS]

Commands:
  verify   check a log export against its signed tree head and heads kept
           from earlier
  help     show help for a command

Run `liaison-audit help COMMAND` or `liaison-audit COMMAND --help` for details.

liaison-audit reads files only; it never contacts a broker. Exit status: 0
verified, 1 verification failed, 2 usage error or unreadable input.
)";

const std::vector<cli::CommandSpec>& Commands() {
  static const auto* commands = new std::vector<cli::CommandSpec>{
      {"verify",
       {"export", "public_key", "known_head"},
       R"(Usage: liaison-audit verify --export=FILE [--public_key=FILE]
                            [--known_head=FILE ...]

Checks a disclosure-log export written by `liaison audit export`:
  - the export's tree head carries a valid signature by the broker's log key;
  - every line's readable entry is exactly the leaf that was hashed into the
    tree, and sequence numbers rise and stay below the head's size;
  - a complete export holds exactly entries 0 to size-1, and they hash to the
    signed root: no entry was changed, added, removed or reordered;
  - a partial (filtered or scoped) export carries an inclusion proof for each
    entry, which must lead to the signed root; it cannot show deletions;
  - each head given with --known_head is genuine and the export extends it: a
    log smaller than a head seen before was truncated or rolled back, and a
    complete export whose first entries no longer hash to an earlier head's
    root had its history rewritten.

Flags:
  --export=FILE       the export file, JSON Lines (required)
  --public_key=FILE   the broker's log public key, PEM or base64: the file
                      log-signing.pub in the broker's data directory, obtained
                      from the operator out of band. Without it the copy of the
                      key inside the export is used, which shows only that the
                      file agrees with itself, not that the broker signed it.
  --known_head=FILE   a tree head kept from earlier, e.g. by `liaison audit
                      tree-head --out=FILE`: a liaison.v1.TreeHead or a
                      liaison.v1.GetTreeHeadResponse in protobuf JSON. Repeat
                      the flag, or separate files with commas, for several.

On success prints
  verified: N entries, tree size S, root HEX, signed TIME by key ID
and one line per known head. A problem is reported as
  liaison-audit: FILE:LINE: sequence N: what is wrong
naming the first bad sequence number, or as "FILE: ..." for a problem of
the whole file (a root that does not match, a truncated log); the exit
status is then 1.

Example:
  liaison-audit verify --export=log-2026-03.jsonl \
      --public_key=log-signing.pub --known_head=head-2026-02.json
)"},
      {"help",
       {},
       R"(Usage: liaison-audit help [COMMAND]

Shows the list of commands, or the help of COMMAND.
)"},
  };
  return *commands;
}

using cli::CommandLine;
using cli::FlagType;

constexpr cli::FlagSpec kFlags[] = {{"export", FlagType::kString},
                                    {"public_key", FlagType::kString},
                                    {"known_head", FlagType::kString}};

const cli::ToolSpec& Tool() {
  static const cli::ToolSpec tool{"liaison-audit", kGeneralHelp, Commands(),
                                  kFlags};
  return tool;
}

int UsageError(absl::string_view message, absl::string_view command = "") {
  return cli::UsageError(Tool(), message, command);
}

// Inputs that cannot be read or understood are the caller's to fix (2);
// anything else means the log did not verify (1).
int Failure(const absl::Status& status) {
  std::cerr << "liaison-audit: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kDataLoss:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

std::string SignedAt(const v1::TreeHead& head) {
  return Rfc3339(TimeOf(head.time()));
}

int RunVerify(const CommandLine& cl) {
  if (cl.positional.size() > 1) {
    return UsageError(
        absl::StrCat("unexpected argument \"", cl.positional[1], "\""),
        "verify");
  }
  VerifyOptions options;
  options.export_path = absl::GetFlag(FLAGS_export);
  if (options.export_path.empty()) {
    return UsageError("verify needs --export=FILE", "verify");
  }
  if (cl.flags.count("public_key") != 0) {
    const std::string path = absl::GetFlag(FLAGS_public_key);
    if (path.empty()) return UsageError("--public_key needs a file", "verify");
    absl::StatusOr<std::string> key = ReadLogPublicKeyFile(path);
    if (!key.ok()) return Failure(key.status());
    options.public_key = *std::move(key);
  }
  // Every --known_head, each possibly a comma-separated list.
  std::vector<std::string> known_head_paths;
  if (auto it = cl.values.find("known_head"); it != cl.values.end()) {
    for (const std::string& value : it->second) {
      for (absl::string_view path : absl::StrSplit(value, ',')) {
        known_head_paths.emplace_back(path);
      }
    }
  }
  for (const std::string& path : known_head_paths) {
    if (path.empty()) return UsageError("--known_head needs a file", "verify");
    absl::StatusOr<v1::TreeHead> head = ReadTreeHeadFile(path);
    if (!head.ok()) return Failure(head.status());
    options.known_heads.push_back(*std::move(head));
  }

  absl::StatusOr<VerifyReport> report = VerifyExport(options);
  if (!report.ok()) return Failure(report.status());
  if (!report->key_pinned) {
    std::cerr << "liaison-audit: warning: the head was checked with the key "
                 "inside the export itself, which shows only that the file "
                 "agrees with itself; pin the broker's key with "
                 "--public_key=FILE\n";
  }
  const v1::TreeHead& head = report->head;
  std::cout << "verified: " << report->entries << " entries"
            << (report->complete ? "" : " (partial export)") << ", tree size "
            << head.tree_size() << ", root "
            << absl::BytesToHexString(head.root_hash()) << ", signed "
            << SignedAt(head) << " by key " << head.key_id() << "\n";
  for (const KnownHeadCheck& known : report->known_heads) {
    if (known.consistency_shown) {
      std::cout << "consistent with head of " << known.head.tree_size()
                << " entries signed " << SignedAt(known.head) << "\n";
    } else {
      std::cout << "head of " << known.head.tree_size() << " entries signed "
                << SignedAt(known.head)
                << ": genuine and not beyond the export; a partial export "
                   "cannot show the log still extends it\n";
    }
  }
  for (const std::string& note : report->notes) {
    std::cout << "note: " << note << "\n";
  }
  return 0;
}

int Run(int argc, char** argv) {
  const cli::Dispatch dispatch = cli::DispatchCommand(argc, argv, Tool());
  if (dispatch.command == nullptr) return dispatch.exit_code;
  absl::ParseCommandLine(argc, argv);
  return RunVerify(dispatch.line);
}

}  // namespace
}  // namespace liaison::audit

int main(int argc, char** argv) { return liaison::audit::Run(argc, argv); }
