// Principal names: the single URI SAN every Liaison certificate carries
// (DESIGN.md section 3). Pure parsing and formatting, shared by the broker
// and liaison-certs so both accept exactly the same names.
#ifndef LIAISON_BROKER_PRINCIPAL_H_
#define LIAISON_BROKER_PRINCIPAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liaison {

enum class PrincipalKind { kAgency, kAuditor, kAdmin, kBroker };

// A parsed principal URI. `sector` is set for agencies only.
struct PrincipalName {
  PrincipalKind kind = PrincipalKind::kAgency;
  std::string sector;
  std::string id;

  // The canonical URI, e.g. "liaison://agency/health/st-olavs".
  std::string Uri() const;
};

// Lower-case kind name as used in URIs: "agency", "auditor", "admin",
// "broker".
absl::string_view KindName(PrincipalKind kind);

// A sector is 1-32 characters of [a-z0-9_], starting with a letter.
absl::Status ValidateSector(absl::string_view sector);
// An id is 1-64 characters of [a-z0-9._-], starting with a letter or digit.
absl::Status ValidatePrincipalId(absl::string_view id);

// Parses exactly one of:
//   liaison://agency/<sector>/<id>
//   liaison://auditor/<id>
//   liaison://admin/<id>
//   liaison://broker/<id>
// Anything else (other schemes, extra segments, query, fragment, percent
// escapes, upper case) is INVALID_ARGUMENT with a message naming the problem.
absl::StatusOr<PrincipalName> ParsePrincipalUri(absl::string_view uri);

}  // namespace liaison

#endif  // LIAISON_BROKER_PRINCIPAL_H_
