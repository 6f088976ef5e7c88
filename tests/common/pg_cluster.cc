#include "tests/common/pg_cluster.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace liaison::testing {
namespace {

std::string BinDir() {
  const char* dir = std::getenv("LIAISON_PG_BIN");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/lib/postgresql/15/bin";
}

// `command` as the user that may run PostgreSQL's server.
std::string AsServerUser(const std::string& command) {
  if (geteuid() != 0) return command;
  return absl::StrCat("runuser -u postgres -- ", command);
}

int Run(const std::string& command) { return std::system(command.c_str()); }

}  // namespace

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start() {
  const std::string bin = BinDir();
  if (access((bin + "/initdb").c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no PostgreSQL server binaries in ", bin,
        "; install Debian's postgresql-15 (tests/run.sh does) or set "
        "LIAISON_PG_BIN"));
  }
  char dir[] = "/tmp/liaison-pg.XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    return absl::InternalError("cannot make a folder for the test cluster");
  }
  std::unique_ptr<PgCluster> cluster(new PgCluster(dir));
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
      return absl::FailedPreconditionError(
          "running as root, the test cluster needs the postgres user "
          "(Debian's postgresql-15 package creates it)");
    }
  }
  const std::string data = cluster->dir_ + "/data";
  if (Run(AsServerUser(absl::StrCat(bin, "/initdb -D ", data,
                                    " -U postgres -A trust --no-sync "
                                    "-E UTF8 >",
                                    cluster->dir_, "/initdb.log 2>&1"))) !=
      0) {
    return absl::InternalError(
        absl::StrCat("initdb failed; see ", cluster->dir_, "/initdb.log"));
  }
  // Only a Unix socket in the cluster's own folder: tests running at once
  // never meet.
  if (Run(AsServerUser(absl::StrCat(
          bin, "/pg_ctl -D ", data, " -w -l ", cluster->dir_,
          "/server.log -o \"-k ", cluster->dir_,
          " -c listen_addresses='' -c fsync=off\" start >/dev/null"))) != 0) {
    return absl::InternalError(absl::StrCat(
        "the test cluster did not start; see ", cluster->dir_, "/server.log"));
  }
  cluster->running_ = true;
  return cluster;
}

PgCluster::~PgCluster() {
  if (running_) {
    Run(AsServerUser(absl::StrCat(BinDir(), "/pg_ctl -D ", dir_,
                                  "/data -m immediate stop >/dev/null 2>&1")));
  }
  Run(absl::StrCat("rm -rf ", dir_));
}

std::string PgCluster::Conninfo(const std::string& database) const {
  return absl::StrCat("host=", dir_, " user=postgres dbname=", database);
}

absl::Status PgCluster::CreateDatabase(const std::string& name) {
  if (Run(absl::StrCat(BinDir(), "/createdb -h ", dir_, " -U postgres ",
                       name)) != 0) {
    return absl::InternalError(absl::StrCat("createdb ", name, " failed"));
  }
  return absl::OkStatus();
}

}  // namespace liaison::testing
