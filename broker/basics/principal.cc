#include "broker/basics/principal.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace liaison {
namespace {

constexpr absl::string_view kScheme = "liaison://";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string PrincipalName::Uri() const {
  if (kind == v1::PRINCIPAL_KIND_AGENCY) {
    return absl::StrCat(kScheme, "agency/", sector, "/", id);
  }
  return absl::StrCat(kScheme, KindName(kind), "/", id);
}

absl::string_view KindName(v1::PrincipalKind kind) {
  switch (kind) {
    case v1::PRINCIPAL_KIND_AGENCY:
      return "agency";
    case v1::PRINCIPAL_KIND_AUDITOR:
      return "auditor";
    case v1::PRINCIPAL_KIND_ADMIN:
      return "admin";
    case v1::PRINCIPAL_KIND_BROKER:
      return "broker";
    default:
      return "unknown";
  }
}

absl::Status ValidateSector(absl::string_view sector) {
  if (sector.empty() || sector.size() > 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sector \"", sector, "\" must be 1 to 32 characters long"));
  }
  if (!(sector[0] >= 'a' && sector[0] <= 'z')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sector \"", sector, "\" must start with a lower-case letter"));
  }
  for (char c : sector) {
    if (!IsLowerAlnum(c) && c != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat("sector \"", sector,
                       "\" may contain only a-z, 0-9 and '_' (for example "
                       "\"social_care\")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePrincipalId(absl::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("id \"", id, "\" must be 1 to 64 characters long"));
  }
  if (!IsLowerAlnum(id[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id \"", id, "\" must start with a lower-case letter or a digit"));
  }
  for (char c : id) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "id \"", id, "\" may contain only a-z, 0-9, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PrincipalName> ParsePrincipalUri(absl::string_view uri) {
  if (!absl::StartsWith(uri, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "URI \"", uri, "\" is not a Liaison principal (expected liaison://)"));
  }
  absl::string_view rest = uri.substr(kScheme.size());
  std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
  PrincipalName name;
  const absl::string_view kind = parts[0];
  size_t want_parts = 2;
  if (kind == "agency") {
    name.kind = v1::PRINCIPAL_KIND_AGENCY;
    want_parts = 3;
  } else if (kind == "auditor") {
    name.kind = v1::PRINCIPAL_KIND_AUDITOR;
  } else if (kind == "admin") {
    name.kind = v1::PRINCIPAL_KIND_ADMIN;
  } else if (kind == "broker") {
    name.kind = v1::PRINCIPAL_KIND_BROKER;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("URI \"", uri, "\" names unknown principal kind \"", kind,
                     "\" (expected agency, auditor, admin or broker)"));
  }
  if (parts.size() != want_parts) {
    return absl::InvalidArgumentError(absl::StrCat(
        "URI \"", uri, "\" must have the form ",
        want_parts == 3 ? "liaison://agency/<sector>/<id>"
                        : absl::StrCat("liaison://", kind, "/<id>")));
  }
  if (name.kind == v1::PRINCIPAL_KIND_AGENCY) {
    if (absl::Status s = ValidateSector(parts[1]); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("URI \"", uri, "\": ", s.message()));
    }
    name.sector = std::string(parts[1]);
  }
  if (absl::Status s = ValidatePrincipalId(parts.back()); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI \"", uri, "\": ", s.message()));
  }
  name.id = std::string(parts.back());
  return name;
}

std::string PartyName(const v1::Party& party) {
  switch (party.party_case()) {
    case v1::Party::kSector:
      return absl::StrCat("sector ", party.sector());
    case v1::Party::kAgencyId:
      return absl::StrCat("agency ", party.agency_id());
    case v1::Party::kPublicAuthorities:
      // Only true is valid; a false one covers no agency, and saying
      // "every public authority" for it would overstate the party.
      return party.public_authorities() ? "every public authority"
                                        : "nobody (public_authorities: false)";
    case v1::Party::PARTY_NOT_SET:
      break;
  }
  return "nobody";
}

std::string ActingParty(absl::string_view actor_uri) {
  absl::StatusOr<PrincipalName> name = ParsePrincipalUri(actor_uri);
  if (name.ok() && name->kind == v1::PRINCIPAL_KIND_AGENCY) return name->id;
  return std::string(actor_uri);
}

}  // namespace liaison
