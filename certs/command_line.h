// The command line of Liaison's offline tools (liaison-certs,
// liaison-audit) as seen before Abseil parses it, so that help requests,
// unknown flags, malformed values and flags that do not apply to a command
// are reported in the tool's own words, and Abseil's parsing cannot fail.
#ifndef LIAISON_CERTS_COMMAND_LINE_H_
#define LIAISON_CERTS_COMMAND_LINE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace liaison::cli {

enum class FlagType { kString, kInt, kBool };

// A flag the tool defines. Boolean flags also take the form --noNAME.
struct FlagSpec {
  absl::string_view name;
  FlagType type;
};

struct CommandLine {
  std::vector<std::string> positional;
  std::set<std::string> flags;  // names of the flags given
  // Every value given to each flag, in order (Abseil keeps only the last);
  // none for a boolean flag given without "=".
  std::map<std::string, std::vector<std::string>> values;
  bool help = false;
  std::string error;  // the first problem, when the command line is malformed
};

// Scans argv[1..argc) against `flags`: "--" ends the flags; -h, -help and
// --help ask for help; a flag's value follows "=" or is the next argument.
CommandLine ScanCommandLine(int argc, char** argv,
                            absl::Span<const FlagSpec> flags);

}  // namespace liaison::cli

#endif  // LIAISON_CERTS_COMMAND_LINE_H_
