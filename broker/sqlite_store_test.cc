#include "broker/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <string>

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
  absl::Status s = (*store)->SetAgencyStatus(
      "nobody", v1::AGENCY_STATUS_SUSPENDED, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("nobody"), std::string::npos);
  EXPECT_TRUE((*store)->ListAgencies()->empty());
}

TEST(SqliteStore, RefusesFileFromNewerBroker) {
  const std::string path = TempDbPath();
  { ASSERT_TRUE(SqliteStore::Open({path}).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string bump = "PRAGMA user_version=" +
                           std::to_string(SqliteStore::LatestSchemaVersion() + 1);
  ASSERT_EQ(sqlite3_exec(db, bump.c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open({path});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST(SqliteStore, UnopenablePathIsAClearError) {
  auto store = SqliteStore::Open({"/nonexistent-dir/sub/liaison.db"});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent-dir/sub/liaison.db"),
            std::string::npos);
}

}  // namespace
}  // namespace liaison
