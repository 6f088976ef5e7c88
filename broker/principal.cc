#include "broker/principal.h"

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
  if (kind == PrincipalKind::kAgency) {
    return absl::StrCat(kScheme, "agency/", sector, "/", id);
  }
  return absl::StrCat(kScheme, KindName(kind), "/", id);
}

absl::string_view KindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kAgency:
      return "agency";
    case PrincipalKind::kAuditor:
      return "auditor";
    case PrincipalKind::kAdmin:
      return "admin";
    case PrincipalKind::kBroker:
      return "broker";
  }
  return "unknown";
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
    name.kind = PrincipalKind::kAgency;
    want_parts = 3;
  } else if (kind == "auditor") {
    name.kind = PrincipalKind::kAuditor;
  } else if (kind == "admin") {
    name.kind = PrincipalKind::kAdmin;
  } else if (kind == "broker") {
    name.kind = PrincipalKind::kBroker;
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
  if (name.kind == PrincipalKind::kAgency) {
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

}  // namespace liaison
