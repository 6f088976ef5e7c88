// The liaison-certs commands that make a CA or certificates: init, issue
// and renew. Each takes the scanned command line (its flags already parsed)
// and returns the tool's exit code.
#ifndef LIAISON_CERTS_ISSUE_COMMANDS_H_
#define LIAISON_CERTS_ISSUE_COMMANDS_H_

#include "broker/basics/command_line.h"

namespace liaison::certs {

int RunInit(const cli::CommandLine& cl);
int RunIssue(const cli::CommandLine& cl);
int RunRenew(const cli::CommandLine& cl);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_ISSUE_COMMANDS_H_
