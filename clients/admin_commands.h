// The administrator's commands of the liaison command line
// (`liaison admin ...`): agencies, certificate bindings, routes, reloads and
// the broker's status.
#ifndef LIAISON_CLIENTS_ADMIN_COMMANDS_H_
#define LIAISON_CLIENTS_ADMIN_COMMANDS_H_

#include <string>
#include <vector>

#include "clients/cli.h"

namespace liaison::cli {

extern const char kAdminHelp[];
// Command flags `admin` accepts.
std::vector<std::string> AdminFlags();
int RunAdmin(const Invocation& in);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_ADMIN_COMMANDS_H_
