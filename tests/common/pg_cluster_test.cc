#include "tests/common/pg_cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "broker/store/postgres/pg_connection.h"

namespace liaison::testing {
namespace {

using ::liaison::pg::Connection;
using ::liaison::pg::Result;

std::unique_ptr<PgCluster> StartWithStandby() {
  PgCluster::Options options;
  options.with_standby = true;
  absl::StatusOr<std::unique_ptr<PgCluster>> cluster =
      PgCluster::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

std::unique_ptr<Connection> Open(const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(conninfo);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// The one text value `sql` returns, or the error as text.
std::string One(Connection& c, const std::string& sql) {
  absl::StatusOr<Result> r = c.Run(sql);
  if (!r.ok()) return r.status().ToString();
  if (r->rows() != 1) return absl::StrCat(r->rows(), " rows");
  return r->Text(0, 0);
}

// Runs `sql` on `c`, cancelling it after `limit`. statement_timeout is no
// guard here: PostgreSQL stops its timer before committing, so a commit
// waiting for a synchronous standby that is gone would block the test
// forever. A cancelled wait leaves the commit done locally; the error
// says it was cut.
absl::Status ExecWithin(Connection& c, const std::string& sql,
                        std::chrono::seconds limit) {
  // Taken before the statement runs: libpq's connection is not to be
  // touched from two threads.
  std::unique_ptr<PGcancel, void (*)(PGcancel*)> cancel(PQgetCancel(c.raw()),
                                                        &PQfreeCancel);
  std::promise<absl::Status> done;
  std::future<absl::Status> result = done.get_future();
  std::thread worker([&] { done.set_value(c.Exec(sql)); });
  if (result.wait_for(limit) == std::future_status::ready) {
    worker.join();
    return result.get();
  }
  char error[256];
  PQcancel(cancel.get(), error, sizeof error);
  worker.join();
  return absl::DeadlineExceededError(absl::StrCat(
      "\"", sql, "\" still ran after ", limit.count(), " s and was cancelled"));
}

TEST(PgClusterTest, AnAcknowledgedCommitSurvivesAFailover) {
  std::unique_ptr<PgCluster> cluster = StartWithStandby();
  ASSERT_NE(cluster, nullptr);
  std::unique_ptr<Connection> writer = Open(cluster->FailoverConninfo());
  ASSERT_NE(writer, nullptr);
  // Both servers answer; libpq picks the one that takes writes.
  EXPECT_EQ(One(*writer, "SELECT pg_is_in_recovery()"), "f");
  ASSERT_TRUE(writer->Exec("CREATE TABLE notes (id integer PRIMARY KEY)").ok());
  // remote_apply: the commit returns once the standby shows the row.
  ASSERT_TRUE(writer->Exec("SET synchronous_commit = remote_apply").ok());
  ASSERT_TRUE(writer->Exec("INSERT INTO notes VALUES (1)").ok());

  std::unique_ptr<Connection> standby = Open(cluster->StandbyConninfo());
  ASSERT_NE(standby, nullptr);
  EXPECT_EQ(One(*standby, "SELECT pg_is_in_recovery()"), "t");
  EXPECT_EQ(One(*standby, "SELECT id FROM notes"), "1");
  // Copied from the primary: the promoted standby would wait for a
  // standby of its own unless PromoteStandby clears it.
  EXPECT_EQ(One(*standby, "SHOW synchronous_standby_names"),
            "ANY 1 (liaison_standby)");

  // The default (on) with a synchronous standby: acknowledged once the
  // standby has it on disk, so losing the primary loses nothing.
  ASSERT_TRUE(writer->Exec("SET synchronous_commit = on").ok());
  ASSERT_TRUE(writer->Exec("INSERT INTO notes VALUES (2)").ok());
  ASSERT_TRUE(cluster->StopPrimaryImmediately().ok());
  EXPECT_EQ(writer->Run("SELECT 1").status().code(),
            absl::StatusCode::kUnavailable);
  absl::Status promoted = cluster->PromoteStandby();
  ASSERT_TRUE(promoted.ok()) << promoted;

  std::unique_ptr<Connection> after = Open(cluster->FailoverConninfo());
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(One(*after, "SELECT pg_is_in_recovery()"), "f");
  EXPECT_EQ(One(*after,
                "SELECT string_agg(id::text, ',' ORDER BY id) "
                "FROM notes"),
            "1,2");
  // Would wait for the old standby list were it still set.
  absl::Status written = ExecWithin(*after, "INSERT INTO notes VALUES (3)",
                                    std::chrono::seconds(5));
  EXPECT_TRUE(written.ok()) << written;
  EXPECT_EQ(One(*after, "SELECT count(*) FROM notes"), "3");
}

TEST(PgClusterTest, TheStandbyRefusesWritesUntilPromoted) {
  std::unique_ptr<PgCluster> cluster = StartWithStandby();
  ASSERT_NE(cluster, nullptr);
  std::unique_ptr<Connection> writer = Open(cluster->FailoverConninfo());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Exec("CREATE TABLE notes (id integer PRIMARY KEY)").ok());

  std::unique_ptr<Connection> standby = Open(cluster->StandbyConninfo());
  ASSERT_NE(standby, nullptr);
  // A write that names no table: the standby may not have replayed the
  // CREATE TABLE yet (it is flushed there before the primary answers, not
  // applied), and an INSERT would then fail as an unknown table instead.
  absl::Status refused = standby->Exec("CREATE TABLE other (id integer)");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("25006"), std::string::npos) << refused;

  // Promoting beside a running primary would give two writable servers.
  EXPECT_EQ(cluster->PromoteStandby().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(One(*standby, "SELECT pg_is_in_recovery()"), "t");
}

TEST(PgClusterTest, WithoutAStandbyThereIsNothingToPromote) {
  absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ((*cluster)->PromoteStandby().code(),
            absl::StatusCode::kFailedPrecondition);
  // FailoverConninfo is then the primary alone, still usable.
  std::unique_ptr<Connection> c = Open((*cluster)->FailoverConninfo());
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->Exec("CREATE TABLE notes (id integer)").ok());
}

}  // namespace
}  // namespace liaison::testing
