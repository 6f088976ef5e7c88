// The case commands of the liaison command line (`liaison case ...`): show
// a case, hand it over, close it with an outcome, detach an agency.
#ifndef LIAISON_CLIENTS_CASE_COMMANDS_H_
#define LIAISON_CLIENTS_CASE_COMMANDS_H_

#include "clients/cli.h"

namespace liaison::cli {

int RunCase(const Invocation& in);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_CASE_COMMANDS_H_
