#include "broker/registry.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"

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

namespace {

// An optional short name made of a-z, 0-9, '.', '_' and '-' (areas,
// jurisdictions), as routes and policy files spell them.
bool IsShortName(absl::string_view v, size_t max) {
  if (v.size() > max) return false;
  for (char c : v) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

// Free text for people: bounded, one line, no control characters.
bool IsOneLine(absl::string_view v, size_t max) {
  if (v.size() > max) return false;
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

absl::Status Registry::ValidateText(absl::string_view field,
                                    absl::string_view value, size_t max) {
  if (IsOneLine(value, max)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be one line of at most ", max,
                   " characters, without control characters"));
}

absl::Status Registry::ValidateArea(absl::string_view area) {
  if (!area.empty() && IsShortName(area, 64)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "area \"", absl::CHexEscape(area),
      "\" must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-', e.g. "
      "\"malmo\""));
}

absl::Status Registry::ValidateAgency(const v1::Agency& agency) {
  RETURN_IF_ERROR(ValidatePrincipalId(agency.id()));
  if (absl::Status s = ValidateSector(agency.sector()); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("agency \"", agency.id(), "\": ", s.message()));
  }
  if (!IsShortName(agency.jurisdiction(), 32)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "agency \"", agency.id(), "\": jurisdiction \"",
        absl::CHexEscape(agency.jurisdiction()),
        "\" must be up to 32 characters of a-z, 0-9, '.', '_' and '-', as "
        "the policy set names it, e.g. \"se\""));
  }
  if (!agency.area().empty()) {
    if (absl::Status s = ValidateArea(agency.area()); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("agency \"", agency.id(), "\": ", s.message()));
    }
  }
  for (const auto& [field, value, max] :
       {std::tuple<const char*, const std::string*, size_t>{
            "display_name", &agency.display_name(), 200},
        {"privacy_officer_contact", &agency.privacy_officer_contact(), 254},
        {"status_reason", &agency.status_reason(), 500}}) {
    if (absl::Status s = ValidateText(field, *value, max); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("agency \"", agency.id(), "\": ", s.message()));
    }
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
    if (absl::Status s = ValidateArea(r.area()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("route: ", s.message()));
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

void Registry::InTurn(Turn turn) {
  {
    absl::MutexLock lock(&turn_mu_);
    if (changing_) {
      waiting_.push_back(std::move(turn));
      return;
    }
    changing_ = true;
  }
  turn([this] { NextTurn(); });
}

void Registry::NextTurn() {
  Turn next;
  {
    absl::MutexLock lock(&turn_mu_);
    if (waiting_.empty()) {
      changing_ = false;
      return;
    }
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  next([this] { NextTurn(); });
}

template <typename T>
void Registry::Change(std::function<absl::StatusOr<Planned<T>>()> plan,
                      RegistryDone<T> done) {
  InTurn([this, plan = std::move(plan),
          done = std::move(done)](std::function<void()> finished) {
    absl::StatusOr<Planned<T>> planned = plan();
    if (!planned.ok() || !planned->change.has_value()) {
      finished();
      if (!planned.ok()) {
        done(planned.status());
      } else {
        done(std::move(planned->answer));
      }
      return;
    }
    RegistryChange change = *std::move(planned->change);
    change.entry.set_kind(v1::ENTRY_KIND_ADMIN);
    change.entry.set_allowed(true);
    // The snapshot after the change is made from the one before, so that
    // once the change is durable, putting it in force cannot fail.
    auto next = std::make_shared<Snapshot>(*Current());
    if (change.agency) next->agencies[change.agency->id()] = *change.agency;
    if (change.route) {
      next->routes[absl::StrCat(change.route->sector(), "/",
                                change.route->area())] =
          change.route->agency_id();
    }
    if (change.removed_route) {
      next->routes.erase(absl::StrCat(change.removed_route->sector(), "/",
                                      change.removed_route->area()));
    }
    store_->CommitRegistryChange(
        std::move(change),
        [this, next = std::move(next), answer = std::move(planned->answer),
         finished = std::move(finished),
         done](absl::StatusOr<uint64_t> sequence) mutable {
          if (sequence.ok()) {
            absl::MutexLock lock(&mu_);
            snapshot_ = std::move(next);
          }
          // The next change plans on the snapshot this one installed.
          finished();
          if (!sequence.ok()) {
            done(sequence.status());
          } else {
            done(std::move(answer));
          }
        });
  });
}

void Registry::Register(const v1::Agency& agency, v1::LogEntry entry,
                        RegistryDone<v1::Agency> done) {
  absl::Status valid = ValidateAgency(agency);
  if (valid.ok() && agency.status() == v1::AGENCY_STATUS_SUSPENDED) {
    valid = absl::InvalidArgumentError(
        "a new agency cannot be registered suspended; register it, then "
        "suspend it with a reason");
  }
  if (valid.ok() && !agency.status_reason().empty()) {
    valid = absl::InvalidArgumentError(
        "status_reason is set by SuspendAgency; leave it empty");
  }
  if (valid.ok() && agency.certificate_serials_size() > 0) {
    valid = absl::InvalidArgumentError(
        "certificate_serials are set by BindCertificate; leave them empty");
  }
  if (!valid.ok()) {
    done(valid);
    return;
  }
  Change<v1::Agency>(
      [this, agency,
       entry = std::move(entry)]() -> absl::StatusOr<Planned<v1::Agency>> {
        if (Current()->agencies.contains(agency.id())) {
          return absl::AlreadyExistsError(absl::StrCat(
              "agency \"", agency.id(),
              "\" is already registered; suspend or change it instead"));
        }
        RegistryChange change;
        change.agency = agency;
        change.agency->set_status(v1::AGENCY_STATUS_ACTIVE);
        change.agency_is_new = true;
        change.entry = entry;
        change.entry.set_counterpart(agency.id());
        change.entry.set_admin_action("register_agency");
        change.entry.set_reason(absl::StrCat(
            "registered agency ", agency.id(), " (", agency.display_name(),
            ") in sector ", agency.sector(), ", jurisdiction ",
            agency.jurisdiction().empty() ? "(none)" : agency.jurisdiction(),
            ", area ", agency.area().empty() ? "(none)" : agency.area(),
            agency.public_authority() ? ", a public authority" : ""));
        v1::Agency registered = *change.agency;
        return Planned<v1::Agency>{std::move(registered), std::move(change)};
      },
      std::move(done));
}

void Registry::SetStatus(const std::string& agency_id, v1::AgencyStatus status,
                         const std::string& reason, v1::LogEntry entry,
                         RegistryDone<v1::Agency> done) {
  const bool suspend = status == v1::AGENCY_STATUS_SUSPENDED;
  if (suspend && reason.empty()) {
    done(absl::InvalidArgumentError(
        "a reason is required to suspend an agency; it is shown to the "
        "agency's system on every refused call"));
    return;
  }
  if (absl::Status s = ValidateText("reason", reason, 500); !s.ok()) {
    done(s);
    return;
  }
  Change<v1::Agency>(
      [this, agency_id, status, suspend, reason,
       entry = std::move(entry)]() -> absl::StatusOr<Planned<v1::Agency>> {
        std::optional<v1::Agency> agency = FindAgency(agency_id);
        if (!agency) {
          return absl::NotFoundError(absl::StrCat(
              "no agency with id \"", agency_id, "\" is registered"));
        }
        const bool was_suspended =
            agency->status() == v1::AGENCY_STATUS_SUSPENDED;
        if ((!suspend && !was_suspended) ||
            (suspend && was_suspended && agency->status_reason() == reason)) {
          return Planned<v1::Agency>{*std::move(agency), std::nullopt};
        }
        agency->set_status(status);
        agency->set_status_reason(suspend ? reason : "");
        RegistryChange change;
        change.agency = *agency;
        change.entry = entry;
        change.entry.set_counterpart(agency_id);
        change.entry.set_admin_action(suspend ? "suspend_agency"
                                              : "reactivate_agency");
        change.entry.set_reason(
            suspend ? absl::StrCat("suspended agency ", agency_id, ": ", reason)
                    : absl::StrCat("reactivated agency ", agency_id,
                                   reason.empty() ? "" : ": ", reason));
        return Planned<v1::Agency>{*std::move(agency), std::move(change)};
      },
      std::move(done));
}

void Registry::Bind(const std::string& agency_id, const std::string& serial,
                    bool bind, v1::LogEntry entry,
                    RegistryDone<v1::Agency> done) {
  Change<v1::Agency>(
      [this, agency_id, serial, bind,
       entry = std::move(entry)]() -> absl::StatusOr<Planned<v1::Agency>> {
        std::optional<v1::Agency> agency = FindAgency(agency_id);
        if (!agency) {
          return absl::NotFoundError(absl::StrCat(
              "no agency with id \"", agency_id, "\" is registered"));
        }
        std::vector<std::string> serials(agency->certificate_serials().begin(),
                                         agency->certificate_serials().end());
        auto it = std::find(serials.begin(), serials.end(), serial);
        if (bind && it != serials.end()) {
          return Planned<v1::Agency>{*std::move(agency), std::nullopt};
        }
        if (!bind && it == serials.end()) {
          return absl::NotFoundError(absl::StrCat("certificate serial ", serial,
                                                  " is not bound to agency \"",
                                                  agency_id, "\""));
        }
        if (bind) {
          serials.push_back(serial);
          std::sort(serials.begin(), serials.end());
        } else {
          serials.erase(it);
        }
        agency->clear_certificate_serials();
        for (const std::string& s : serials) agency->add_certificate_serials(s);
        RegistryChange change;
        change.agency = *agency;
        change.entry = entry;
        change.entry.set_counterpart(agency_id);
        change.entry.set_admin_action(bind ? "bind_certificate"
                                           : "unbind_certificate");
        change.entry.set_reason(absl::StrCat(
            bind ? "bound certificate serial " : "unbound certificate serial ",
            serial, bind ? " to agency " : " from agency ", agency_id, "; ",
            serials.empty()
                ? "no serial is bound now, so any unrevoked certificate naming "
                  "the agency is accepted"
                : absl::StrCat(serials.size(), " bound now")));
        return Planned<v1::Agency>{*std::move(agency), std::move(change)};
      },
      std::move(done));
}

void Registry::SetRoute(const v1::Route& route, v1::LogEntry entry,
                        RegistryDone<v1::Route> done) {
  absl::Status valid = ValidateSector(route.sector());
  if (!valid.ok()) {
    valid =
        absl::InvalidArgumentError(absl::StrCat("route: ", valid.message()));
  } else if (route.area().empty()) {
    valid = absl::InvalidArgumentError(absl::StrCat(
        "route for sector \"", route.sector(), "\" needs an area"));
  } else if (absl::Status s = ValidateArea(route.area()); !s.ok()) {
    valid = absl::InvalidArgumentError(absl::StrCat("route: ", s.message()));
  }
  if (!valid.ok()) {
    done(valid);
    return;
  }
  Change<v1::Route>(
      [this, route,
       entry = std::move(entry)]() -> absl::StatusOr<Planned<v1::Route>> {
        std::optional<v1::Agency> agency = FindAgency(route.agency_id());
        if (!agency) {
          return absl::NotFoundError(
              absl::StrCat("route ", route.sector(), " in ", route.area(),
                           " names agency \"", route.agency_id(),
                           "\", which is not registered"));
        }
        if (agency->sector() != route.sector()) {
          return absl::FailedPreconditionError(
              absl::StrCat("agency \"", route.agency_id(), "\" is in sector \"",
                           agency->sector(), "\", so it cannot serve sector \"",
                           route.sector(), "\""));
        }
        std::shared_ptr<const Snapshot> snap = Current();
        auto before =
            snap->routes.find(absl::StrCat(route.sector(), "/", route.area()));
        if (before != snap->routes.end() &&
            before->second == route.agency_id()) {
          return Planned<v1::Route>{route, std::nullopt};
        }
        RegistryChange change;
        change.route = route;
        change.entry = entry;
        change.entry.set_counterpart(route.agency_id());
        change.entry.set_admin_action("set_route");
        change.entry.set_reason(
            absl::StrCat("route ", route.sector(), " in ", route.area(),
                         " now served by ", route.agency_id(),
                         before == snap->routes.end()
                             ? " (new entry)"
                             : absl::StrCat(" (was ", before->second, ")")));
        return Planned<v1::Route>{route, std::move(change)};
      },
      std::move(done));
}

void Registry::RemoveRoute(const v1::Route& route, v1::LogEntry entry,
                           RegistryDone<v1::Route> done) {
  Change<v1::Route>(
      [this, route,
       entry = std::move(entry)]() -> absl::StatusOr<Planned<v1::Route>> {
        std::shared_ptr<const Snapshot> snap = Current();
        auto before =
            snap->routes.find(absl::StrCat(route.sector(), "/", route.area()));
        if (before == snap->routes.end()) {
          return absl::NotFoundError(
              absl::StrCat("no route for sector \"", route.sector(),
                           "\" in area \"", route.area(), "\""));
        }
        RegistryChange change;
        change.removed_route = route;
        change.entry = entry;
        change.entry.set_counterpart(before->second);
        change.entry.set_admin_action("remove_route");
        change.entry.set_reason(
            absl::StrCat("route ", route.sector(), " in ", route.area(),
                         " removed (was served by ", before->second, ")"));
        return Planned<v1::Route>{route, std::move(change)};
      },
      std::move(done));
}

std::vector<v1::Route> Registry::Routes() const {
  std::shared_ptr<const Snapshot> snap = Current();
  std::vector<v1::Route> out;
  for (const auto& [key, agency_id] : snap->routes) {
    const size_t slash = key.find('/');
    v1::Route& r = out.emplace_back();
    r.set_sector(key.substr(0, slash));
    r.set_area(key.substr(slash + 1));
    r.set_agency_id(agency_id);
  }
  std::sort(out.begin(), out.end(), [](const v1::Route& a, const v1::Route& b) {
    return std::tie(a.sector(), a.area()) < std::tie(b.sector(), b.area());
  });
  return out;
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
