// The auditor's commands of the liaison command line (`liaison audit ...`)
// and the agency's `liaison manual-disclosure`.
#ifndef LIAISON_CLIENTS_AUDIT_COMMANDS_H_
#define LIAISON_CLIENTS_AUDIT_COMMANDS_H_

#include <string>
#include <vector>

#include "clients/cli.h"

namespace liaison::cli {

extern const char kAuditHelp[];
// Command flags `audit` accepts.
std::vector<std::string> AuditFlags();
int RunAudit(const Invocation& in);

extern const char kManualDisclosureHelp[];
int RunManualDisclosure(const Invocation& in);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_AUDIT_COMMANDS_H_
