#include "broker/registry.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/principal.h"
#include "broker/status_macros.h"

namespace liaison {

Registry::Registry(Store* store)
    : store_(store), snapshot_(std::make_shared<Snapshot>()) {}

absl::Status Registry::Load() {
  auto next = std::make_shared<Snapshot>();
  ASSIGN_OR_RETURN(std::vector<v1::Agency> agencies, store_->ListAgencies());
  for (v1::Agency& a : agencies) {
    std::string id = a.id();
    next->agencies.emplace(std::move(id), std::move(a));
  }
  ASSIGN_OR_RETURN(std::vector<v1::Auditor> auditors, store_->ListAuditors());
  for (v1::Auditor& a : auditors) {
    std::string id = a.id();
    next->auditors.emplace(std::move(id), std::move(a));
  }
  ASSIGN_OR_RETURN(std::vector<v1::Route> routes, store_->ListRoutes());
  for (const v1::Route& r : routes) {
    next->routes[absl::StrCat(r.sector(), "/", r.area())] = r.agency_id();
  }
  absl::MutexLock lock(&mu_);
  snapshot_ = std::move(next);
  return absl::OkStatus();
}

std::shared_ptr<const Registry::Snapshot> Registry::Current() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

absl::Status Registry::ValidateAgency(const v1::Agency& agency) {
  RETURN_IF_ERROR(ValidatePrincipalId(agency.id()));
  if (absl::Status s = ValidateSector(agency.sector()); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("agency \"", agency.id(), "\": ", s.message()));
  }
  if (agency.status() != v1::AGENCY_STATUS_UNSPECIFIED &&
      agency.status() != v1::AGENCY_STATUS_ACTIVE &&
      agency.status() != v1::AGENCY_STATUS_SUSPENDED) {
    return absl::InvalidArgumentError(
        absl::StrCat("agency \"", agency.id(), "\": unknown status"));
  }
  return absl::OkStatus();
}

absl::Status Registry::ValidateAuditor(const v1::Auditor& auditor) {
  if (absl::Status s = ValidatePrincipalId(auditor.id()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("auditor: ", s.message()));
  }
  const std::string& scope = auditor.scope();
  if (scope == "*") return absl::OkStatus();
  for (absl::string_view prefix : {"jurisdiction:", "agency:"}) {
    if (absl::StartsWith(scope, prefix) && scope.size() > prefix.size()) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "auditor \"", auditor.id(), "\": scope \"", scope,
      "\" must be \"*\", \"jurisdiction:<id>\" or \"agency:<id>\""));
}

absl::StatusOr<Registry::SeedResult> Registry::ApplySeed(
    const v1::RegistrySeed& seed) {
  absl::flat_hash_set<std::string> seen;
  for (const v1::Agency& a : seed.agencies()) {
    RETURN_IF_ERROR(ValidateAgency(a));
    if (!seen.insert(a.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("agency \"", a.id(), "\" is listed twice"));
    }
  }
  seen.clear();
  for (const v1::Auditor& a : seed.auditors()) {
    RETURN_IF_ERROR(ValidateAuditor(a));
    if (!seen.insert(a.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("auditor \"", a.id(), "\" is listed twice"));
    }
  }
  std::shared_ptr<const Snapshot> before = Current();
  for (const v1::Route& r : seed.routes()) {
    if (absl::Status s = ValidateSector(r.sector()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("route: ", s.message()));
    }
    if (r.area().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("route for sector \"", r.sector(), "\" needs an area"));
    }
    bool known = before->agencies.contains(r.agency_id());
    for (const v1::Agency& a : seed.agencies()) {
      if (a.id() == r.agency_id()) known = true;
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "route ", r.sector(), " in ", r.area(), " names agency \"",
          r.agency_id(), "\", which is not registered"));
    }
  }
  SeedResult result;
  for (const v1::Agency& a : seed.agencies()) {
    if (before->agencies.contains(a.id())) {
      ++result.agencies_kept;
      continue;
    }
    RETURN_IF_ERROR(store_->UpsertAgency(a));
    ++result.agencies_added;
  }
  for (const v1::Auditor& a : seed.auditors()) {
    RETURN_IF_ERROR(store_->UpsertAuditor(a));
    ++result.auditors_written;
  }
  for (const v1::Route& r : seed.routes()) {
    RETURN_IF_ERROR(store_->UpsertRoute(r));
    ++result.routes_written;
  }
  RETURN_IF_ERROR(Load());
  return result;
}

std::optional<v1::Agency> Registry::FindAgency(const std::string& id) const {
  std::shared_ptr<const Snapshot> snap = Current();
  auto it = snap->agencies.find(id);
  if (it == snap->agencies.end()) return std::nullopt;
  return it->second;
}

std::optional<v1::Agency> Registry::ResolveRoute(
    const std::string& sector, const std::string& area) const {
  std::shared_ptr<const Snapshot> snap = Current();
  auto route = snap->routes.find(absl::StrCat(sector, "/", area));
  if (route == snap->routes.end()) return std::nullopt;
  auto it = snap->agencies.find(route->second);
  if (it == snap->agencies.end()) return std::nullopt;
  return it->second;
}

std::optional<v1::Auditor> Registry::FindAuditor(const std::string& id) const {
  std::shared_ptr<const Snapshot> snap = Current();
  auto it = snap->auditors.find(id);
  if (it == snap->auditors.end()) return std::nullopt;
  return it->second;
}

std::vector<v1::Agency> Registry::Agencies() const {
  std::shared_ptr<const Snapshot> snapshot = Current();
  std::vector<v1::Agency> out;
  out.reserve(snapshot->agencies.size());
  for (const auto& [id, agency] : snapshot->agencies) out.push_back(agency);
  return out;
}

}  // namespace liaison
