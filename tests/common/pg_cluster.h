// A throw-away PostgreSQL server for tests: a cluster made by initdb in a
// temporary folder, listening only on Unix sockets in that folder, stopped
// and removed when the object goes. PostgreSQL refuses to run as root, so
// when the tests run as root the cluster belongs to the `postgres` user
// that Debian's postgresql-15 package creates.
//
// On request it is a primary with a synchronous streaming standby, as the
// brokers' database is deployed (DESIGN.md section 7), so tests can stop
// the primary, promote the standby and see what brokers see in a failover.
#ifndef LIAISON_TESTS_COMMON_PG_CLUSTER_H_
#define LIAISON_TESTS_COMMON_PG_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace liaison::testing {

class PgCluster {
 public:
  struct Options {
    // Also start a standby made from the primary by pg_basebackup -R,
    // streaming from it, with the primary waiting for it on every commit
    // (synchronous_standby_names = 'ANY 1 (liaison_standby)', commits
    // return once the standby has flushed them: an acknowledged commit
    // survives losing the primary). Start returns once the primary reports
    // the standby as synchronous. Default: the primary alone.
    bool with_standby = false;
    // Flush every commit to disk (fsync on), as a real server does, for
    // measurements; tests default to fsync off, since nothing they write
    // must outlive them.
    bool durable = false;
  };

  // FAILED_PRECONDITION naming the package to install when PostgreSQL's
  // server binaries are missing (LIAISON_PG_BIN overrides where they are
  // looked for: default /usr/lib/postgresql/15/bin). Other failures name
  // the log in the cluster's folder that says why.
  static absl::StatusOr<std::unique_ptr<PgCluster>> Start();
  static absl::StatusOr<std::unique_ptr<PgCluster>> Start(
      const Options& options);
  // Stops whichever servers still run (-m immediate) and removes the
  // folder.
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // A libpq connection string for `database` on the primary as started,
  // and only there (also after a failover, when it no longer answers).
  std::string Conninfo(const std::string& database = "postgres") const;
  // The same for the standby alone; a session there is read-only until
  // PromoteStandby. Only with Options::with_standby.
  std::string StandbyConninfo(const std::string& database = "postgres") const;
  // What brokers use: both servers, libpq taking the first that accepts
  // writes (target_session_attrs=read-write), so a new connection follows
  // a promotion. Without a standby, the primary alone.
  std::string FailoverConninfo(const std::string& database = "postgres") const;

  // A fresh, empty database, made on whichever server accepts writes.
  absl::Status CreateDatabase(const std::string& name);

  // Kills the primary as a crash would (pg_ctl stop -m immediate): no
  // shutdown checkpoint, sessions cut. FAILED_PRECONDITION if it is not
  // running.
  absl::Status StopPrimaryImmediately();
  // Makes the standby a primary (pg_ctl promote -w) and clears its
  // synchronous_standby_names, copied from the old primary, so its commits
  // do not wait for a standby that no longer exists. Returns once a new
  // session there has the cleared setting. FAILED_PRECONDITION without a
  // standby, or while the primary still runs: two writable servers would
  // split the history.
  absl::Status PromoteStandby();

 private:
  explicit PgCluster(std::string dir) : dir_(std::move(dir)) {}
  absl::Status StartServer(const std::string& data, int port,
                           const std::string& log);
  absl::Status AddStandby();
  std::string dir_;
  bool primary_running_ = false;
  bool has_standby_ = false;
  bool durable_ = false;
  bool standby_running_ = false;
  bool promoted_ = false;
};

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_COMMON_PG_CLUSTER_H_
