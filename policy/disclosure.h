// The one place a disclosure is decided, and the one place a record is
// reduced to the level decided (DESIGN.md rules 1 and 2). Every path that
// lets a record leave an agency (referral, summary push, summary request
// and its answer) calls Decide and then Abstract.
#ifndef LIAISON_POLICY_DISCLOSURE_H_
#define LIAISON_POLICY_DISCLOSURE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/basics/principal.h"
#include "liaison/v1/common.pb.h"
#include "liaison/v1/exchange.pb.h"
#include "liaison/v1/records.pb.h"
#include "policy/policy_set.h"

namespace liaison::policy {

// Everything a decision may depend on.
struct DisclosureQuery {
  std::string sender_agency_id;
  std::string sender_sector;
  // Jurisdiction the sender is registered in; selects the override
  // categories and provisions that are valid.
  std::string sender_jurisdiction;
  std::string recipient_agency_id;
  std::string recipient_sector;
  std::string purpose;
  // Record type, e.g. "health"; empty when nothing is attached.
  std::string record_type;
  v1::LegalBasis basis;
  // True when the recipient is the named recipient of a referral, attached
  // to the case, or named by the consent.
  bool legitimate_relationship = false;
  // True when the basis is an override the recipient asks the sender to
  // make (a summary request citing a risk): it is checked like any
  // override, but the two-person rule waits for the sender's own override
  // in its answer, which is what discloses.
  bool override_requested = false;
  // The sender's pre-sharing checklist for a disclosure of its own record
  // (a referral, a summary push, an answer); checked against the steps the
  // policy requires of the sender's sector. nullopt where the sender
  // discloses no record of its own (a summary request, feedback).
  std::optional<v1::PreSharingChecklist> checklist;
  absl::Time at;
  // Pseudonym of the subject the disclosure is about.
  std::string subject_pseudonym;
  // For a consent basis: the consent the basis names, as the registry
  // holds it, with the pseudonym of its subject; nullopt when the registry
  // has no consent with that id.
  std::optional<v1::Consent> consent;
  std::string consent_subject_pseudonym;
  // Refusals recorded for the subject (withdrawn ones included; Decide
  // skips those). A refusal covering the route and purpose rules consent
  // out as a basis and leaves an override possible.
  std::vector<v1::Consent> refusals;
};

struct Decision {
  bool allowed = false;
  v1::Level level = v1::LEVEL_NONE;
  // The agreement that decided; empty when none covers the route.
  std::string agreement_id;
  // Highest level the agreement gives under an override; above `level`
  // means the recipient could see more under another basis.
  v1::Level override_max_level = v1::LEVEL_NONE;
  // The chain of reasons, in words an auditor and the sender can act on.
  // When denied, the last one says why.
  std::vector<std::string> reasons;
  std::string policy_version;
};

// Decides `query` against `set`. Deny by default: allowed only when one
// agreement in force covers the route and purpose, the basis is one it
// allows and is complete, and the relationship it requires is there.
Decision Decide(const PolicySet& set, const DisclosureQuery& query);

// How long auditors have to review an override of an agency registered in
// `jurisdiction`: its override_review_days, else 7 days.
absl::Duration OverrideReviewWindow(const PolicySet& set,
                                    const std::string& jurisdiction);

// How long the broker keeps the content it holds for an agency registered
// in `jurisdiction` (DESIGN.md rule 10): its retention, every field 0 (or
// an unknown jurisdiction) given the default Retention documents.
v1::Retention RetentionOf(const PolicySet& set,
                          const std::string& jurisdiction);

// A professional id as the broker compares and records it: without the
// white space around it (ASCII, and the no-break, zero-width and
// ideographic spaces a form may paste). Blank becomes empty.
std::string NormalisedProfessionalId(absl::string_view id);

// A professional id as people are told apart: white space and invisible
// format characters (zero-width, joiners, word joiners, byte order marks,
// variation selectors, soft hyphens, tags) removed wherever they are, ASCII
// letters lower-cased. Two ids equal here are one person; empty means no
// one was named.
std::string ComparableProfessionalId(absl::string_view id);

// `j` with its assessor's and approver's ids normalised, as logs and
// alerts record them.
v1::Justification NormalisedJustification(const v1::Justification& j);

// Whether `party` names the agency `agency_id` of `sector`: by id, by
// sector, or as a public authority when the set marks its sector so.
bool PartyCovers(const PolicySet& set, const v1::Party& party,
                 const std::string& agency_id, const std::string& sector);

// The pre-sharing checklist steps the set requires of senders of `sector`
// that `checklist` does not confirm, each named by its field in
// v1::PreSharingChecklist ("concern_verified", ...); empty when complete.
std::vector<std::string> MissingChecklistSteps(
    const PolicySet& set, const std::string& sector,
    const v1::PreSharingChecklist& checklist);

// The steps `checklist` confirms, by their field names, in the order of
// PreSharingChecklist.
std::vector<std::string> ConfirmedChecklistSteps(
    const v1::PreSharingChecklist& checklist);

// The day a guardian's consent for `subject` lapses in `jurisdiction`: the
// subject's birthday at the age of majority (29 February counts from 1
// March in a common year). nullopt when the birth date is not a date.
std::optional<absl::CivilDay> MajorityDay(const v1::Subject& subject,
                                          const v1::Jurisdiction& jurisdiction);

// The subject a record names, or nullptr when no record is set.
const v1::Subject* RecordSubject(const v1::Record& record);

// The record type name of a record ("health", "social_care", "education",
// "police"), or "" when none is set.
std::string RecordType(const v1::Record& record);

// Reduces `record` to `decision.level` with the set's field rules: at FULL
// the record as sent, at NONE nothing, between them each field as its rule
// says for the level. Fields unknown to the schema are always discarded.
// `on` is the day ages are computed for; `hash_key` keys KEYED_HASH.
v1::AbstractedRecord Abstract(const PolicySet& set, const v1::Record& record,
                              const Decision& decision, absl::CivilDay on,
                              absl::string_view hash_key);

// Reduces `message`, an envelope message of the kind `name` names (see
// EnvelopeRules.message), in place to `level` by the set's envelope rules:
// each content field as its rule says for the level (KEEP at FULL, DROP at
// NONE), a content field no rule covers withheld at every level, routing
// fields and abstracted records left as they are. Unknown fields are
// discarded. Sets the message's `envelope` field to what was done. `on` is
// the day ages are computed for; `hash_key` keys KEYED_HASH.
// `agreement_id` names the agreement that decided, whose own envelope rules
// replace the set's for the fields they name; empty for views.
void AbstractEnvelope(const PolicySet& set, absl::string_view name,
                      v1::Level level, google::protobuf::Message* message,
                      absl::CivilDay on, absl::string_view hash_key,
                      absl::string_view agreement_id = "");

}  // namespace liaison::policy

#endif  // LIAISON_POLICY_DISCLOSURE_H_
