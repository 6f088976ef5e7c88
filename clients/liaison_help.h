// What `liaison help` and `liaison help COMMAND` print for the agency's
// commands; the audit and admin help sits with their commands.
#ifndef LIAISON_CLIENTS_LIAISON_HELP_H_
#define LIAISON_CLIENTS_LIAISON_HELP_H_

namespace liaison::cli {

// The overview: every command, the connection flags and the exit status.
extern const char kLiaisonHelp[];

extern const char kWhoAmIHelp[];
extern const char kSendReferralHelp[];
extern const char kPushSummaryHelp[];
extern const char kRequestSummaryHelp[];
extern const char kAnswerSummaryHelp[];
extern const char kInboxHelp[];
extern const char kAckHelp[];
extern const char kReferralHelp[];
extern const char kCaseHelp[];
extern const char kConsentHelp[];

}  // namespace liaison::cli

#endif  // LIAISON_CLIENTS_LIAISON_HELP_H_
