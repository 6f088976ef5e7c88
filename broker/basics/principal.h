// Principal names: the single URI SAN every Liaison certificate carries
// (DESIGN.md section 3). Pure parsing and formatting, shared by the broker
// and liaison-certs so both accept exactly the same names.
#ifndef LIAISON_BROKER_BASICS_PRINCIPAL_H_
#define LIAISON_BROKER_BASICS_PRINCIPAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "liaison/v1/common.pb.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {

// A parsed principal URI. `sector` is set for agencies only.
struct PrincipalName {
  v1::PrincipalKind kind = v1::PRINCIPAL_KIND_AGENCY;
  std::string sector;
  std::string id;

  // The canonical URI, e.g. "liaison://agency/health/st-olavs".
  std::string Uri() const;
};

// Lower-case kind name as used in URIs: "agency", "auditor", "admin",
// "broker"; "unknown" for any other value.
absl::string_view KindName(v1::PrincipalKind kind);

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

// How a party of a consent or a policy reads in reasons, the log and the
// command line, alike everywhere: "sector health", "agency x", "every
// public authority", or "nobody" for a party that names no one.
std::string PartyName(const v1::Party& party);

// Who acted, as the log indexes an entry's actor URI: the registry id of
// an agency, or the URI itself for anyone else (an auditor, an
// administrator, the broker).
std::string ActingParty(absl::string_view actor_uri);

}  // namespace liaison

#endif  // LIAISON_BROKER_BASICS_PRINCIPAL_H_
