// The liaison-certs commands that withdraw trust: revoke and crl. Each
// takes the scanned command line (its flags already parsed) and returns the
// tool's exit code.
#ifndef LIAISON_CERTS_REVOCATION_COMMANDS_H_
#define LIAISON_CERTS_REVOCATION_COMMANDS_H_

#include "broker/basics/command_line.h"

namespace liaison::certs {

int RunRevoke(const cli::CommandLine& cl);
int RunCrl(const cli::CommandLine& cl);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_REVOCATION_COMMANDS_H_
