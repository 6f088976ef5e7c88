// The one place a disclosure is decided, and the one place a record is
// reduced to the level decided (DESIGN.md rules 1 and 2). Every path that
// lets a record leave an agency (referral, summary push, summary request
// and its answer) calls Decide and then Abstract.
#ifndef LIAISON_POLICY_DISCLOSURE_H_
#define LIAISON_POLICY_DISCLOSURE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "liaison/v1/common.pb.h"
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
  absl::Time at;
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

}  // namespace liaison::policy

#endif  // LIAISON_POLICY_DISCLOSURE_H_
