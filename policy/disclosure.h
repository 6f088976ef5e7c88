// The one place a disclosure is decided, and the one place a record is
// reduced to the level decided (DESIGN.md rules 1 and 2). Every path that
// lets a record leave an agency calls Decide and then Abstract.
//
// Until the policy engine lands, decisions come from an explicit allow-list
// in the broker's configuration: deny by default, allow only a listed
// (sender sector, recipient sector, purpose) at its listed level, and only
// with a legal basis named.
#ifndef LIAISON_POLICY_DISCLOSURE_H_
#define LIAISON_POLICY_DISCLOSURE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "liaison/v1/common.pb.h"
#include "liaison/v1/config.pb.h"
#include "liaison/v1/records.pb.h"

namespace liaison::policy {

// Everything a decision may depend on.
struct DisclosureQuery {
  std::string sender_agency_id;
  std::string sender_sector;
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
  // Which agreement (or allow-list entry) allowed it; empty when denied.
  std::string agreement_id;
  // Why, in words an auditor and the sender can act on.
  std::vector<std::string> reasons;
  std::string policy_version;
};

class DisclosurePolicy {
 public:
  // Checks the allow-list: sectors and purposes set, levels above NONE, no
  // entry listed twice. INVALID_ARGUMENT names the offending entry.
  static absl::StatusOr<DisclosurePolicy> FromAllowList(
      const std::vector<v1::DisclosureAllowance>& allow);

  Decision Decide(const DisclosureQuery& query) const;

  // A digest of the allow-list's canonical form, recorded with every
  // decision.
  const std::string& version() const { return version_; }

 private:
  DisclosurePolicy(std::vector<v1::DisclosureAllowance> allow,
                   std::string version);

  std::vector<v1::DisclosureAllowance> allow_;
  std::string version_;
};

// The record type name of a record ("health", "social_care", "education",
// "police"), or "" when none is set.
std::string RecordType(const v1::Record& record);

// Reduces `record` to `level`. Without per-field transforms from policy, a
// level below FULL withholds every field of the record, and says so field
// by field; FULL keeps the record as sent.
v1::AbstractedRecord Abstract(const v1::Record& record, v1::Level level,
                              const std::string& policy_version);

}  // namespace liaison::policy

#endif  // LIAISON_POLICY_DISCLOSURE_H_
