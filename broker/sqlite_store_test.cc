#include "broker/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"

namespace liaison {
namespace {

std::string TempDbPath() {
  std::string dir = ::testing::TempDir() + "/storeXXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir + "/liaison.db";
}

v1::Agency HealthAgency() {
  v1::Agency a;
  a.set_id("st-olavs");
  a.set_sector("health");
  a.set_jurisdiction("se");
  a.set_area("malmo");
  a.set_display_name("St Olav's Hospital");
  a.set_public_authority(true);
  a.set_privacy_officer_contact("dpo@st-olavs.example");
  a.add_certificate_serials("0A1B");
  return a;
}

TEST(SqliteStore, MigratesNewFileToLatestVersion) {
  const std::string path = TempDbPath();
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open({path});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->SchemaVersion(), SqliteStore::LatestSchemaVersion());
  EXPECT_GE(SqliteStore::LatestSchemaVersion(), 1);
}

TEST(SqliteStore, AgencySurvivesReopen) {
  const std::string path = TempDbPath();
  {
    auto store = SqliteStore::Open({path});
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->UpsertAgency(HealthAgency()).ok());
    ASSERT_TRUE((*store)
                    ->SetAgencyStatus("st-olavs", v1::AGENCY_STATUS_SUSPENDED,
                                      "audit pending")
                    .ok());
  }
  auto store = SqliteStore::Open({path});
  ASSERT_TRUE(store.ok()) << store.status();
  auto agencies = (*store)->ListAgencies();
  ASSERT_TRUE(agencies.ok()) << agencies.status();
  ASSERT_EQ(agencies->size(), 1u);
  const v1::Agency& a = (*agencies)[0];
  EXPECT_EQ(a.display_name(), "St Olav's Hospital");
  EXPECT_EQ(a.area(), "malmo");
  EXPECT_EQ(a.status(), v1::AGENCY_STATUS_SUSPENDED);
  EXPECT_EQ(a.status_reason(), "audit pending");
  ASSERT_EQ(a.certificate_serials_size(), 1);
  EXPECT_EQ(a.certificate_serials(0), "0A1B");
}

TEST(SqliteStore, UnknownAgencyStatusChangeIsNotFoundAndChangesNothing) {
  auto store = SqliteStore::Open({TempDbPath()});
  ASSERT_TRUE(store.ok());
  absl::Status s =
      (*store)->SetAgencyStatus("nobody", v1::AGENCY_STATUS_SUSPENDED, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("nobody"), std::string::npos);
  EXPECT_TRUE((*store)->ListAgencies()->empty());
}

TEST(SqliteStore, RefusesFileFromNewerBroker) {
  const std::string path = TempDbPath();
  { ASSERT_TRUE(SqliteStore::Open({path}).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string bump =
      "PRAGMA user_version=" +
      std::to_string(SqliteStore::LatestSchemaVersion() + 1);
  ASSERT_EQ(sqlite3_exec(db, bump.c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open({path});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST(SqliteStore, ConcurrentWritesShareCommitsAndAreAnsweredAfterThem) {
  auto store = SqliteStore::Open({TempDbPath()});
  ASSERT_TRUE(store.ok()) << store.status();
  constexpr int kEntries = 500;
  absl::Mutex mu;
  std::vector<uint64_t> sequences;
  absl::BlockingCounter remaining(kEntries);
  for (int i = 0; i < kEntries; ++i) {
    v1::LogEntry entry;
    entry.set_kind(v1::ENTRY_KIND_DENIAL);
    entry.set_reason("test " + std::to_string(i));
    (*store)->AppendLog(std::move(entry), [&](absl::StatusOr<uint64_t> seq) {
      ASSERT_TRUE(seq.ok()) << seq.status();
      absl::MutexLock lock(&mu);
      sequences.push_back(*seq);
      remaining.DecrementCount();
    });
  }
  remaining.Wait();
  std::sort(sequences.begin(), sequences.end());
  for (int i = 0; i < kEntries; ++i) EXPECT_EQ(sequences[i], uint64_t(i));
  const SqliteStore::CommitStats stats = (*store)->Stats();
  EXPECT_EQ(stats.operations, uint64_t{kEntries});
  // Writes queued together were committed together.
  EXPECT_LT(stats.commits, uint64_t{kEntries});
}

TEST(SqliteStore, RouteToUnregisteredAgencyIsRefusedAndChangesNothing) {
  auto store = SqliteStore::Open({TempDbPath()});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->UpsertAgency(HealthAgency()).ok());
  v1::Route bad;
  bad.set_sector("social_care");
  bad.set_area("malmo");
  bad.set_agency_id("not-registered");
  absl::Status s = (*store)->UpsertRoute(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("not-registered"), std::string::npos);
  EXPECT_TRUE((*store)->ListRoutes()->empty());
  EXPECT_EQ((*store)->ListAgencies()->size(), 1u);
}

TEST(SqliteStore, UnopenablePathIsAClearError) {
  auto store = SqliteStore::Open({"/nonexistent-dir/sub/liaison.db"});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent-dir/sub/liaison.db"),
            std::string::npos);
}

}  // namespace
}  // namespace liaison
