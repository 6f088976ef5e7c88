// What `liaison-certs help` and `--help` print, and which flags each
// command accepts.
#ifndef LIAISON_CERTS_CERTS_HELP_H_
#define LIAISON_CERTS_CERTS_HELP_H_

#include <vector>

#include "absl/strings/string_view.h"

namespace liaison::certs {

// The tool's help: its commands and the global flag.
extern const char kGeneralHelp[];

struct Command {
  absl::string_view name;
  // Flags the command accepts besides --dir.
  std::vector<absl::string_view> flags;
  absl::string_view help;
};

// Every command, help included, in the order the general help lists them.
const std::vector<Command>& Commands();

// The command called `name`; nullptr when there is none.
const Command* FindCommand(absl::string_view name);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_CERTS_HELP_H_
