// The broker's durable state behind one interface (DESIGN.md section 7), so
// services never see SQL and a PostgreSQL backend can sit beside SQLite.
// Every mutating call returns only after its change is committed.
#ifndef LIAISON_BROKER_STORE_H_
#define LIAISON_BROKER_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "liaison/v1/admin.pb.h"

namespace liaison {

class Store {
 public:
  virtual ~Store() = default;

  // The schema version the store is at after its migrations ran.
  virtual int SchemaVersion() const = 0;

  // Registry of agencies. UpsertAgency inserts or replaces every field of
  // the agency, including its certificate bindings. Agency ids are unique
  // across sectors.
  virtual absl::Status UpsertAgency(const v1::Agency& agency) = 0;
  // NOT_FOUND when no agency has that id.
  virtual absl::Status SetAgencyStatus(const std::string& agency_id,
                                       v1::AgencyStatus status,
                                       const std::string& reason) = 0;
  virtual absl::StatusOr<std::vector<v1::Agency>> ListAgencies() = 0;

  // Registry of auditors, inserted or replaced by id.
  virtual absl::Status UpsertAuditor(const v1::Auditor& auditor) = 0;
  virtual absl::StatusOr<std::vector<v1::Auditor>> ListAuditors() = 0;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_H_
