// Who may call the broker: the agencies and auditors registered in the
// store, held in memory as an immutable snapshot so per-call checks never
// touch the database. Every change goes to the store first, then a new
// snapshot replaces the old one.
#ifndef LIAISON_BROKER_REGISTRY_H_
#define LIAISON_BROKER_REGISTRY_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "broker/store/store.h"
#include "liaison/v1/config.pb.h"

namespace liaison {

class Registry {
 public:
  // `store` must outlive the registry.
  explicit Registry(Store* store);

  // Reads the registry from the store.
  absl::Status Load();

  // Validates every entry of `seed` (ids, sectors, scopes, duplicates) and
  // only then writes: agencies not yet registered are added, agencies
  // already registered are left as they are (the Admin API manages them
  // after the first start); auditors are inserted or updated. On a
  // validation error nothing is written. Routes are inserted or replaced and
  // must name an agency registered or in the seed.
  struct SeedResult {
    int agencies_added = 0;
    int agencies_kept = 0;
    int auditors_written = 0;
    int routes_written = 0;
  };
  absl::StatusOr<SeedResult> ApplySeed(const v1::RegistrySeed& seed);

  // Administrators' changes. Each checks the request against the registry
  // in force, writes the change together with `entry` (an ADMIN entry the
  // caller filled with time, actor and professional; the registry adds
  // counterpart, admin_action and reason) in one commit, then installs the
  // new snapshot, and then calls `done`, on the store's thread or (for a
  // request refused or changing nothing) the caller's: they never block.
  // They take effect one at a time, in the order called, each planned on
  // the snapshot the one before installed. On error nothing changed. A
  // request that changes nothing (binding a bound serial, reactivating an
  // active agency) succeeds without an entry.
  template <typename T>
  using RegistryDone = std::function<void(absl::StatusOr<T>)>;
  // INVALID_ARGUMENT (ValidateAgency, or a status other than UNSPECIFIED
  // or ACTIVE, or bindings); ALREADY_EXISTS for a registered id.
  void Register(const v1::Agency& agency, v1::LogEntry entry,
                RegistryDone<v1::Agency> done);
  // NOT_FOUND for an unknown agency; INVALID_ARGUMENT when suspending
  // without a reason.
  void SetStatus(const std::string& agency_id, v1::AgencyStatus status,
                 const std::string& reason, v1::LogEntry entry,
                 RegistryDone<v1::Agency> done);
  // `serial` must already be upper-case hex (NormalizeSerial). NOT_FOUND
  // for an unknown agency, or (unbind) a serial not bound to it.
  void Bind(const std::string& agency_id, const std::string& serial, bool bind,
            v1::LogEntry entry, RegistryDone<v1::Agency> done);
  // INVALID_ARGUMENT for a bad sector or an empty area; NOT_FOUND for an
  // unknown agency; FAILED_PRECONDITION for an agency of another sector.
  void SetRoute(const v1::Route& route, v1::LogEntry entry,
                RegistryDone<v1::Route> done);
  // NOT_FOUND when there is no entry for (sector, area). Answers with the
  // route as asked.
  void RemoveRoute(const v1::Route& route, v1::LogEntry entry,
                   RegistryDone<v1::Route> done);
  // Every routing entry, by sector then area.
  std::vector<v1::Route> Routes() const;

  std::optional<v1::Agency> FindAgency(const std::string& id) const;
  // The agency the routing directory names for `sector` in `area`.
  std::optional<v1::Agency> ResolveRoute(const std::string& sector,
                                         const std::string& area) const;
  std::optional<v1::Auditor> FindAuditor(const std::string& id) const;
  // Every registered agency, in no particular order.
  std::vector<v1::Agency> Agencies() const;

  // Checks one agency entry as the registry requires it: id and sector as
  // in certificate URIs, jurisdiction and area short names, the texts for
  // people one bounded line each.
  static absl::Status ValidateAgency(const v1::Agency& agency);
  // An area of the routing directory; INVALID_ARGUMENT saying the form.
  static absl::Status ValidateArea(absl::string_view area);
  // Free text shown to people (`field` names it in the error).
  static absl::Status ValidateText(absl::string_view field,
                                   absl::string_view value, size_t max);
  static absl::Status ValidateAuditor(const v1::Auditor& auditor);

 private:
  struct Snapshot {
    absl::flat_hash_map<std::string, v1::Agency> agencies;
    absl::flat_hash_map<std::string, v1::Auditor> auditors;
    // "<sector>/<area>" to agency id.
    absl::flat_hash_map<std::string, std::string> routes;
  };
  std::shared_ptr<const Snapshot> Current() const;

  // One administrator's change at a time: a turn runs when the one before
  // has called its `finished`, which it must call exactly once.
  using Turn = std::function<void(std::function<void()> finished)>;
  void InTurn(Turn turn);
  void NextTurn();
  // The answer to a change and, unless it changes nothing, what to commit.
  template <typename T>
  struct Planned {
    T answer;
    std::optional<RegistryChange> change;
  };
  // In turn: plans on the snapshot in force, commits, installs the next
  // snapshot, answers.
  template <typename T>
  void Change(std::function<absl::StatusOr<Planned<T>>()> plan,
              RegistryDone<T> done);

  Store* const store_;
  absl::Mutex turn_mu_;
  bool changing_ ABSL_GUARDED_BY(turn_mu_) = false;
  std::deque<Turn> waiting_ ABSL_GUARDED_BY(turn_mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liaison

#endif  // LIAISON_BROKER_REGISTRY_H_
