// The embedded Store: one SQLite file in WAL mode with synchronous=FULL, so
// a change is on disk before the call that made it returns.
#ifndef LIAISON_BROKER_SQLITE_STORE_H_
#define LIAISON_BROKER_SQLITE_STORE_H_

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "broker/store.h"

namespace liaison {

struct SqliteStoreOptions {
  // Path of the database file; created if missing. Required.
  std::string path;
  // How long a writer waits for another process's lock before failing with
  // UNAVAILABLE. Default 5 s.
  int busy_timeout_ms = 5000;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database and applies every migration the
  // file has not seen, each in its own transaction. A file written by a newer
  // broker (higher schema version) is refused with FAILED_PRECONDITION.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const SqliteStoreOptions& options);

  // The highest schema version this build knows.
  static int LatestSchemaVersion();

  ~SqliteStore() override;

  int SchemaVersion() const override;
  absl::Status UpsertAgency(const v1::Agency& agency) override;
  absl::Status SetAgencyStatus(const std::string& agency_id,
                               v1::AgencyStatus status,
                               const std::string& reason) override;
  absl::StatusOr<std::vector<v1::Agency>> ListAgencies() override;
  absl::Status UpsertAuditor(const v1::Auditor& auditor) override;
  absl::StatusOr<std::vector<v1::Auditor>> ListAuditors() override;

 private:
  explicit SqliteStore(sqlite3* db);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  int schema_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_SQLITE_STORE_H_
