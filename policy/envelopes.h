// The envelope messages: what an agency can receive besides records
// (DESIGN.md rule 2), by the names policy files give them in
// EnvelopeRules.message.
#ifndef LIAISON_POLICY_ENVELOPES_H_
#define LIAISON_POLICY_ENVELOPES_H_

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace liaison::policy {

// Every envelope message name, in the order policy.proto lists them:
// "referral", "referral_update", "summary_request", "summary", "notice",
// "case", "consent".
const std::vector<std::string>& EnvelopeNames();

// The API message an envelope name stands for (e.g. liaison.v1.Referral for
// "referral"), or nullptr for an unknown name.
const google::protobuf::Descriptor* EnvelopeType(absl::string_view name);

// True for the envelopes shown outside a disclosure decision ("notice",
// "case", "consent"), whose rules apply at their view_level.
bool EnvelopeIsView(absl::string_view name);

}  // namespace liaison::policy

#endif  // LIAISON_POLICY_ENVELOPES_H_
