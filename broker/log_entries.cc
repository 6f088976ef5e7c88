#include "broker/log_entries.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/log/message_util.h"

namespace liaison {

v1::BasisKind BasisKindOf(const v1::LegalBasis& basis) {
  switch (basis.basis_case()) {
    case v1::LegalBasis::kConsentId:
      return v1::BASIS_KIND_CONSENT;
    case v1::LegalBasis::kOverride:
      return v1::BASIS_KIND_OVERRIDE;
    case v1::LegalBasis::kStatutoryDuty:
      return v1::BASIS_KIND_STATUTORY_DUTY;
    case v1::LegalBasis::BASIS_NOT_SET:
      break;
  }
  return v1::BASIS_KIND_UNSPECIFIED;
}

v1::LogEntry DecisionEntry(const EntryFacts& f,
                           const policy::Decision& decision,
                           const v1::AbstractedRecord* abstracted,
                           v1::EntryKind allowed_kind) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), f.now);
  if (!decision.allowed) {
    e.set_kind(v1::ENTRY_KIND_DENIAL);
  } else if (allowed_kind == v1::ENTRY_KIND_DISCLOSURE &&
             f.basis->has_override()) {
    e.set_kind(v1::ENTRY_KIND_OVERRIDE);
  } else {
    e.set_kind(allowed_kind);
  }
  e.set_actor(f.actor->uri());
  *e.mutable_professional() = f.professional;
  e.set_counterpart(f.counterpart);
  e.set_subject_pseudonym(f.subject_pseudonym);
  e.set_case_id(f.case_id);
  e.set_message_id(f.message_id);
  e.set_record_type(f.record_type);
  e.set_level(decision.level);
  if (abstracted != nullptr) {
    for (const v1::FieldOutcome& o : abstracted->fields()) {
      if (o.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD) {
        e.add_fields_withheld(o.field());
      } else {
        e.add_fields_disclosed(o.field());
      }
    }
  }
  e.set_basis(BasisKindOf(*f.basis));
  if (f.basis->has_consent_id()) e.set_consent_id(f.basis->consent_id());
  if (f.basis->has_override()) {
    // The statement goes to the store with the entry, which seals it
    // beside the log; the log keeps its digest.
    *e.mutable_justification() =
        policy::NormalisedJustification(f.basis->override());
    e.set_statement_digest(Sha256Hex(f.basis->override().statement()));
  }
  if (e.kind() == v1::ENTRY_KIND_OVERRIDE) {
    SetTime(e.mutable_review_by(), f.now + f.review_within);
  }
  e.set_agreement_id(decision.agreement_id);
  e.set_policy_version(decision.policy_version);
  if (decision.allowed && abstracted != nullptr) {
    e.set_payload_digest(Sha256Hex(DeterministicBytes(*abstracted)));
  }
  e.set_allowed(decision.allowed);
  e.set_reason(absl::StrJoin(decision.reasons, "; "));
  e.set_purpose(f.purpose);
  if (f.checklist != nullptr) {
    for (std::string& step : policy::ConfirmedChecklistSteps(*f.checklist)) {
      e.add_checklist_attested(std::move(step));
    }
  }
  return e;
}

void NoteEnvelope(absl::string_view name, const v1::EnvelopeOutcome& envelope,
                  const google::protobuf::Message& delivered, v1::LogEntry* e) {
  for (const v1::FieldOutcome& o : envelope.fields()) {
    const std::string field = absl::StrCat(name, ".", o.field());
    if (o.treatment() == v1::FieldOutcome::TREATMENT_WITHHELD) {
      e->add_fields_withheld(field);
    } else {
      e->add_fields_disclosed(field);
    }
  }
  if (e->allowed())
    e->set_payload_digest(Sha256Hex(DeterministicBytes(delivered)));
}

v1::LogEntry AdminEntry(absl::Time now, const std::string& actor,
                        const v1::Professional* professional,
                        const policy::PolicySet* in_force,
                        absl::string_view action) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), now);
  e.set_kind(v1::ENTRY_KIND_ADMIN);
  e.set_actor(actor);
  if (professional != nullptr) *e.mutable_professional() = *professional;
  if (in_force != nullptr) e.set_policy_version(in_force->version());
  e.set_admin_action(std::string(action));
  return e;
}

v1::LogEntry AccessEntry(absl::Time now, const std::string& actor,
                         const v1::Professional* professional,
                         absl::string_view call) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), now);
  e.set_kind(v1::ENTRY_KIND_ACCESS);
  e.set_actor(actor);
  if (professional != nullptr) *e.mutable_professional() = *professional;
  e.set_read_call(std::string(call));
  e.set_allowed(true);
  return e;
}

}  // namespace liaison
