// The liaison-certs commands that show and change nothing: list and
// inspect. Each takes the scanned command line (its flags already parsed)
// and returns the tool's exit code.
#ifndef LIAISON_CERTS_LISTING_COMMANDS_H_
#define LIAISON_CERTS_LISTING_COMMANDS_H_

#include "broker/basics/command_line.h"

namespace liaison::certs {

int RunList(const cli::CommandLine& cl);
int RunInspect(const cli::CommandLine& cl);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_LISTING_COMMANDS_H_
