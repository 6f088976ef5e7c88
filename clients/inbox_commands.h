// The inbox commands of the liaison command line: show what is pending or
// follow the inbox acknowledging each message, and acknowledge one.
#ifndef LIAISON_CLIENTS_INBOX_COMMANDS_H_
#define LIAISON_CLIENTS_INBOX_COMMANDS_H_

#include "clients/cli.h"

namespace liaison::cli {

int RunInbox(const Invocation& in);
int RunAck(const Invocation& in);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_INBOX_COMMANDS_H_
