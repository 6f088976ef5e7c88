// The consent commands of the liaison command line (`liaison consent
// ...`): record a consent or a refusal from a file, withdraw one, show one.
#ifndef LIAISON_CLIENTS_CONSENT_COMMANDS_H_
#define LIAISON_CLIENTS_CONSENT_COMMANDS_H_

#include "clients/cli.h"

namespace liaison::cli {

int RunConsent(const Invocation& in);

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_CONSENT_COMMANDS_H_
