// The disclosure log's entries as the services build them: one place that
// decides what an entry says, so every decision, delivery and
// administrator's change is logged alike. An entry holds no record content
// and no raw identifier (DESIGN.md rule 4).
#ifndef LIAISON_BROKER_LOG_ENTRIES_H_
#define LIAISON_BROKER_LOG_ENTRIES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "liaison/v1/exchange.pb.h"
#include "liaison/v1/log.pb.h"
#include "policy/disclosure.h"
#include "policy/policy_set.h"

namespace liaison {

// The kind of legal basis `basis` is, as the log records it.
v1::BasisKind BasisKindOf(const v1::LegalBasis& basis);

// What a decision's log entry says besides the decision itself.
struct EntryFacts {
  // The calling agency and professional.
  const v1::Principal* actor = nullptr;
  v1::Professional professional;
  // The other agency: the recipient, or the holder asked.
  std::string counterpart;
  std::string subject_pseudonym;
  std::string case_id;
  // The referral, summary or request id.
  std::string message_id;
  std::string purpose;
  const v1::LegalBasis* basis = nullptr;
  // Empty when no record was involved.
  std::string record_type;
  // The sender's pre-sharing checklist, when the call carried one.
  const v1::PreSharingChecklist* checklist = nullptr;
  // How long auditors have to review it, should it be an override.
  absl::Duration review_within = absl::Hours(24 * 7);
  absl::Time now;
};

// The log entry for a decision. It holds no record content and no raw
// identifier (DESIGN.md rule 4): the subject by pseudonym, the
// justification without its statement, the payload by digest. An allowed
// disclosure under an override is an OVERRIDE entry, so it enters the
// auditors' review queue; `allowed_kind` replaces DISCLOSURE for entries
// that disclose nothing themselves (a summary request).
v1::LogEntry DecisionEntry(
    const EntryFacts& f, const policy::Decision& decision,
    const v1::AbstractedRecord* abstracted,
    v1::EntryKind allowed_kind = v1::ENTRY_KIND_DISCLOSURE);

// Adds what the envelope of a delivered message kept and withheld to the
// decision's entry (as "referral.concerns", ...), and makes the payload
// digest that of the whole message delivered.
void NoteEnvelope(absl::string_view name, const v1::EnvelopeOutcome& envelope,
                  const google::protobuf::Message& delivered, v1::LogEntry* e);

// The start of an ADMIN entry for `action` by `actor` (a principal URI, or
// the broker itself): time, actor, the professional acting (null for
// none), and the version of `in_force`, the policy set in force (null for
// none). The caller adds the outcome and its reason.
v1::LogEntry AdminEntry(absl::Time now, const std::string& actor,
                        const v1::Professional* professional,
                        const policy::PolicySet* in_force,
                        absl::string_view action);

// The start of an ACCESS entry: `actor` (a principal URI) read with
// `call`, as `professional` (null for none). The caller adds what was
// read: the ids, the subject's pseudonym, the counterpart whose content it
// was, and read_filter for a query.
v1::LogEntry AccessEntry(absl::Time now, const std::string& actor,
                         const v1::Professional* professional,
                         absl::string_view call);

}  // namespace liaison

#endif  // LIAISON_BROKER_LOG_ENTRIES_H_
