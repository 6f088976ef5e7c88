// A throw-away PostgreSQL server for tests: a cluster made by initdb in a
// temporary folder, listening only on a Unix socket in that folder, stopped
// and removed when the object goes. PostgreSQL refuses to run as root, so
// when the tests run as root the cluster belongs to the `postgres` user
// that Debian's postgresql-15 package creates.
#ifndef LIAISON_TESTS_COMMON_PG_CLUSTER_H_
#define LIAISON_TESTS_COMMON_PG_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace liaison::testing {

class PgCluster {
 public:
  // FAILED_PRECONDITION naming the package to install when PostgreSQL's
  // server binaries are missing (LIAISON_PG_BIN overrides where they are
  // looked for: default /usr/lib/postgresql/15/bin).
  static absl::StatusOr<std::unique_ptr<PgCluster>> Start();
  ~PgCluster();

  // A libpq connection string for `database` on this cluster.
  std::string Conninfo(const std::string& database = "postgres") const;
  // A fresh, empty database.
  absl::Status CreateDatabase(const std::string& name);

 private:
  explicit PgCluster(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  bool running_ = false;
};

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_COMMON_PG_CLUSTER_H_
