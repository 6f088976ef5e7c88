// The agency's exchange commands of the liaison command line: who the
// broker thinks you are, referrals sent from a file and moved through their
// lifecycle, and summaries pushed, requested and answered.
#ifndef LIAISON_CLIENTS_EXCHANGE_COMMANDS_H_
#define LIAISON_CLIENTS_EXCHANGE_COMMANDS_H_

#include "clients/cli.h"

namespace liaison::cli {

int RunWhoAmI(const Invocation& in);
int RunSendReferral(const Invocation& in);
int RunPushSummary(const Invocation& in);
int RunRequestSummary(const Invocation& in);
int RunAnswerSummary(const Invocation& in);
// `referral show|ack|accept|decline|info|close ID`.
int RunReferral(const Invocation& in);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_EXCHANGE_COMMANDS_H_
