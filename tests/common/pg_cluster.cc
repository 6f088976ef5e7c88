#include "tests/common/pg_cluster.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace liaison::testing {
namespace {

// Both servers listen only on Unix sockets in the cluster's own folder, so
// the ports never meet another test's; they only tell the sockets apart.
constexpr int kPrimaryPort = 5432;
constexpr int kStandbyPort = 5433;
// The standby's name on the primary: its application_name, which
// synchronous_standby_names lists.
constexpr char kStandbyName[] = "liaison_standby";

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

// What `sql` (one statement, no double quotes) returns on the server at
// `port`, rows one a line. Through psql, so that the cluster's own checks
// do not rest on the libpq wrapper the tests are testing.
absl::StatusOr<std::string> Psql(const std::string& dir, int port,
                                 const std::string& sql) {
  const std::string command = absl::StrCat(
      BinDir(), "/psql -X -A -t -q -v ON_ERROR_STOP=1 -h ", dir, " -p ", port,
      " -U postgres -d postgres -c \"", sql, "\" 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot run psql");
  std::string out;
  char buffer[512];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int rc = pclose(pipe);
  out = std::string(absl::StripTrailingAsciiWhitespace(out));
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(
        "psql on port ", port, " failed for \"", sql, "\": ", out));
  }
  return out;
}

// Asks `sql` on `port` until it returns `want`: a server takes in a change
// (a standby joining, a reloaded setting) a moment after it is asked to,
// and says so only when asked again.
absl::Status AwaitAnswer(const std::string& dir, int port,
                         const std::string& sql, const std::string& want,
                         const std::string& log) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string last;
  while (true) {
    absl::StatusOr<std::string> answer = Psql(dir, port, sql);
    if (answer.ok() && *answer == want) return absl::OkStatus();
    last = answer.ok() ? absl::StrCat("\"", *answer, "\"")
                       : answer.status().ToString();
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("after 30 s, \"", sql, "\" on port ", port, " still gives ",
                   last, " instead of \"", want, "\"; see ", log));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start() {
  return Start(Options());
}

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start(
    const Options& options) {
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
  cluster->durable_ = options.durable;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
      return absl::FailedPreconditionError(
          "running as root, the test cluster needs the postgres user "
          "(Debian's postgresql-15 package creates it)");
    }
  }
  const std::string data = cluster->dir_ + "/data";
  // initdb's pg_hba.conf with -A trust also lets local replication
  // connections in, which pg_basebackup and the standby use.
  if (Run(AsServerUser(absl::StrCat(bin, "/initdb -D ", data,
                                    " -U postgres -A trust --no-sync "
                                    "-E UTF8 >",
                                    cluster->dir_, "/initdb.log 2>&1"))) != 0) {
    return absl::InternalError(
        absl::StrCat("initdb failed; see ", cluster->dir_, "/initdb.log"));
  }
  if (options.with_standby) {
    // In postgresql.conf rather than on the command line, so that
    // pg_basebackup copies it to the standby as servers that share one
    // configuration have it; hence PromoteStandby must clear it. The
    // primary's commits wait until the standby has joined, which Start
    // awaits before returning.
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "wal_level = replica\n"
         << "max_wal_senders = 4\n"
         << "synchronous_standby_names = 'ANY 1 (" << kStandbyName << ")'\n";
    if (!conf.flush()) {
      return absl::InternalError(
          absl::StrCat("cannot write ", data, "/postgresql.conf"));
    }
  }
  absl::Status started =
      cluster->StartServer(data, kPrimaryPort, cluster->dir_ + "/server.log");
  if (!started.ok()) return started;
  cluster->primary_running_ = true;
  if (options.with_standby) {
    absl::Status standby = cluster->AddStandby();
    if (!standby.ok()) return standby;
  }
  return cluster;
}

absl::Status PgCluster::StartServer(const std::string& data, int port,
                                    const std::string& log) {
  // fsync=off unless durable: nothing a test writes must outlive it.
  // synchronous_commit keeps its default (on), so a standby stays
  // synchronous.
  if (Run(AsServerUser(absl::StrCat(
          BinDir(), "/pg_ctl -D ", data, " -w -l ", log, " -o \"-k ", dir_,
          " -p ", port, " -c listen_addresses='' -c max_connections=200",
          durable_ ? "" : " -c fsync=off", "\" start >/dev/null"))) != 0) {
    return absl::InternalError(absl::StrCat("the test server on port ", port,
                                            " did not start; see ", log));
  }
  return absl::OkStatus();
}

absl::Status PgCluster::AddStandby() {
  const std::string standby = dir_ + "/standby";
  // -R writes standby.signal and a primary_conninfo made of the connection
  // parameters given here, application_name among them. -c fast: do not
  // wait for a spread checkpoint; -N and --no-manifest: a throw-away copy.
  if (Run(AsServerUser(absl::StrCat(
          BinDir(), "/pg_basebackup -D ", standby,
          " -R -c fast -N --no-manifest -d \"host=", dir_, " port=",
          kPrimaryPort, " user=postgres application_name=", kStandbyName,
          "\" >", dir_, "/basebackup.log 2>&1"))) != 0) {
    return absl::InternalError(
        absl::StrCat("pg_basebackup failed; see ", dir_, "/basebackup.log"));
  }
  has_standby_ = true;
  absl::Status started =
      StartServer(standby, kStandbyPort, dir_ + "/standby.log");
  if (!started.ok()) return started;
  standby_running_ = true;
  // 'quorum' is how the primary reports a standby counted by ANY n (...).
  return AwaitAnswer(dir_, kPrimaryPort,
                     absl::StrCat("SELECT sync_state FROM pg_stat_replication "
                                  "WHERE application_name = '",
                                  kStandbyName, "'"),
                     "quorum", dir_ + "/standby.log");
}

PgCluster::~PgCluster() {
  if (primary_running_) {
    Run(AsServerUser(absl::StrCat(BinDir(), "/pg_ctl -D ", dir_,
                                  "/data -m immediate stop >/dev/null 2>&1")));
  }
  if (standby_running_) {
    Run(AsServerUser(absl::StrCat(BinDir(), "/pg_ctl -D ", dir_,
                                  "/standby -m immediate stop >/dev/null "
                                  "2>&1")));
  }
  Run(absl::StrCat("rm -rf ", dir_));
}

std::string PgCluster::Conninfo(const std::string& database) const {
  return absl::StrCat("host=", dir_, " port=", kPrimaryPort,
                      " user=postgres dbname=", database);
}

std::string PgCluster::StandbyConninfo(const std::string& database) const {
  return absl::StrCat("host=", dir_, " port=", kStandbyPort,
                      " user=postgres dbname=", database);
}

std::string PgCluster::FailoverConninfo(const std::string& database) const {
  if (!has_standby_) {
    return absl::StrCat(Conninfo(database), " target_session_attrs=read-write");
  }
  return absl::StrCat("host=", dir_, ",", dir_, " port=", kPrimaryPort, ",",
                      kStandbyPort, " user=postgres dbname=", database,
                      " target_session_attrs=read-write");
}

absl::Status PgCluster::CreateDatabase(const std::string& name) {
  if (Run(absl::StrCat(BinDir(), "/createdb --maintenance-db='",
                       FailoverConninfo(), "' ", name)) != 0) {
    return absl::InternalError(absl::StrCat("createdb ", name, " failed"));
  }
  return absl::OkStatus();
}

absl::Status PgCluster::StopPrimaryImmediately() {
  if (!primary_running_) {
    return absl::FailedPreconditionError("the primary is not running");
  }
  if (Run(AsServerUser(absl::StrCat(BinDir(), "/pg_ctl -D ", dir_,
                                    "/data -m immediate stop >/dev/null"))) !=
      0) {
    return absl::InternalError(
        absl::StrCat("the primary did not stop; see ", dir_, "/server.log"));
  }
  primary_running_ = false;
  return absl::OkStatus();
}

absl::Status PgCluster::PromoteStandby() {
  if (!standby_running_) {
    return absl::FailedPreconditionError(
        "no standby to promote; start the cluster with "
        "Options::with_standby");
  }
  if (promoted_) {
    return absl::FailedPreconditionError("the standby is already promoted");
  }
  if (primary_running_) {
    return absl::FailedPreconditionError(
        "the primary still runs; stop it first (StopPrimaryImmediately)");
  }
  const std::string log = dir_ + "/standby.log";
  if (Run(AsServerUser(absl::StrCat(BinDir(), "/pg_ctl -D ", dir_,
                                    "/standby -w promote >/dev/null"))) != 0) {
    return absl::InternalError(
        absl::StrCat("the standby was not promoted; see ", log));
  }
  promoted_ = true;
  // Two calls: ALTER SYSTEM may not share a transaction with anything.
  absl::StatusOr<std::string> cleared = Psql(
      dir_, kStandbyPort, "ALTER SYSTEM SET synchronous_standby_names = ''");
  if (!cleared.ok()) return cleared.status();
  absl::StatusOr<std::string> reloaded =
      Psql(dir_, kStandbyPort, "SELECT pg_reload_conf()");
  if (!reloaded.ok()) return reloaded.status();
  return AwaitAnswer(dir_, kStandbyPort, "SHOW synchronous_standby_names", "",
                     log);
}

}  // namespace liaison::testing
