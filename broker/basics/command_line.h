// The command line of Liaison's tools (liaison-certs, liaison-audit,
// liaison) as seen before Abseil parses it, so that help requests,
// unknown flags, malformed values and flags that do not apply to a command
// are reported in the tool's own words, and Abseil's parsing cannot fail.
#ifndef LIAISON_BROKER_BASICS_COMMAND_LINE_H_
#define LIAISON_BROKER_BASICS_COMMAND_LINE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace liaison::cli {

enum class FlagType { kString, kInt, kDouble, kBool };

// A flag the tool defines. Boolean flags also take the form --noNAME.
struct FlagSpec {
  absl::string_view name;
  FlagType type;
};

struct CommandLine {
  std::vector<std::string> positional;
  std::set<std::string> flags;  // names of the flags given
  // Every value given to each flag, in order (Abseil keeps only the last);
  // "true" for a boolean flag given as --NAME, "false" for --noNAME.
  std::map<std::string, std::vector<std::string>> values;
  bool help = false;
  std::string error;  // the first problem, when the command line is malformed
  // The first argument that names no flag, as given; empty when none.
  std::string unknown;
};

// Scans argv[1..argc) against `flags`: "--" ends the flags; -h, -help and
// --help ask for help; a flag's value follows "=" or is the next argument.
CommandLine ScanCommandLine(int argc, char** argv,
                            absl::Span<const FlagSpec> flags);

// Every flag defined with ABSL_FLAG in the program, typed for scanning,
// for a tool whose commands define their own flags in their own files.
std::vector<FlagSpec> RegisteredFlags();

// A command of a tool: its name, the flags it accepts and its help text.
struct CommandSpec {
  absl::string_view name;
  std::vector<absl::string_view> flags;
  absl::string_view help;
};

// A tool's commands, for dispatch. A "help" command is handled here and
// need not be listed.
struct ToolSpec {
  absl::string_view name;          // e.g. "liaison-policy"
  absl::string_view general_help;  // shown for no command, --help, `help`
  absl::Span<const CommandSpec> commands;
  absl::Span<const FlagSpec> flags;
};

// What to do after reading the command line: run `command` with `line`, or
// return `exit_code` at once (help was shown, or a usage error reported on
// stderr).
struct Dispatch {
  const CommandSpec* command = nullptr;
  CommandLine line;
  int exit_code = 0;
};

// Scans the command line, answers help requests, and refuses unknown
// commands, malformed flags and flags the command does not take, with exit
// code 2.
Dispatch DispatchCommand(int argc, char** argv, const ToolSpec& tool);

// Prints "TOOL: message" and where to find usage to stderr; returns 2.
int UsageError(const ToolSpec& tool, absl::string_view message,
               absl::string_view command = "");

}  // namespace liaison::cli

#endif  // LIAISON_BROKER_BASICS_COMMAND_LINE_H_
