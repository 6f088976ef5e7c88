// The SQLite backend against the Store conformance suites.
#include <sqlite3.h>

#include <memory>
#include <string>

#include "broker/store/sqlite/sqlite_store.h"
#include "broker/store/sqlite/sqlite_testing.h"
#include "broker/store/store_conformance.h"
#include "broker/store/store_conformance_consents.h"
#include "broker/store/store_conformance_log.h"
#include "broker/store/store_conformance_referrals.h"
#include "broker/store/store_conformance_registry.h"

namespace liaison::conformance {
namespace {

// One database file in the test's directory, opened as the broker opens
// it: the broker's rules, the test's signer and clock.
struct SqliteFactory {
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreSetup& setup) {
    SqliteStoreOptions options = TestStoreOptions(setup.dir + "/liaison.db");
    options.signer = setup.signer;
    options.clock = setup.clock;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(*std::move(store));
  }
};

// A file whose rows were written before schema version 8: the delivery
// kept its own copy of the referral, a change rewrote the referral's body
// with its history, and the log's tree nodes were keyed by level.
class SqliteRowsBeforeVersion8
    : public StoreReferralConformance<SqliteFactory> {
 protected:
  void Exec(sqlite3* db, const std::string& sql, const std::string& blob = "") {
    sqlite3_stmt* statement = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    if (!blob.empty()) {
      sqlite3_bind_blob(statement, 1, blob.data(),
                        static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    }
    EXPECT_EQ(sqlite3_step(statement), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(statement);
  }
};

TEST_F(SqliteRowsBeforeVersion8, AreReadAndChangedAsTheyWere) {
  // Enough entries for nodes above the leaves: 6 before the upgrade.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Append(AdminEntry("reload_policy", Now())).ok());
  }
  NewReferral r = Referral("1", kSchool, kSocial, Now());
  ASSERT_TRUE(Refer(r).ok());
  store_.reset();
  // Rewritten as the version before wrote them: the inbox row with the
  // whole delivery, the referral's body with the change it had had.
  v1::Referral changed = r.referral;
  changed.set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
  v1::ReferralEvent* seen = changed.add_history();
  seen->set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
  seen->set_detail("seen before the upgrade");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((setup_.dir + "/liaison.db").c_str(), &db), SQLITE_OK);
  Exec(db, "UPDATE inbox SET body=?1", r.delivery.SerializeAsString());
  Exec(db, "UPDATE referrals SET status=3, body=?1",
       changed.SerializeAsString());
  ASSERT_EQ(v1::REFERRAL_STATUS_ACKNOWLEDGED, 3);
  Exec(db, "DROP TABLE referral_events");
  Exec(db, "ALTER TABLE inbox DROP COLUMN from_referral");
  // And the log's tree nodes keyed by (level, idx), as before version 9.
  Exec(db,
       "CREATE TABLE old_nodes (level INTEGER NOT NULL, idx INTEGER NOT "
       "NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID");
  Exec(db,
       "INSERT INTO old_nodes SELECT level, ((last_leaf + 1) >> level) - 1, "
       "hash FROM log_nodes");
  Exec(db, "DROP TABLE log_nodes");
  Exec(db, "ALTER TABLE old_nodes RENAME TO log_nodes");
  ASSERT_EQ(sqlite3_exec(db, kUndoVersions10And11, nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  Exec(db, "PRAGMA user_version=7");
  sqlite3_close(db);

  Reopen();
  std::vector<v1::InboxMessage> inbox = Inbox(kSocial);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].referral().SerializeAsString(),
            r.delivery.referral().SerializeAsString());
  absl::StatusOr<v1::Referral> accepted =
      ApplyChange(Change("1", kSocial, v1::REFERRAL_STATUS_ACCEPTED, ""));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  absl::StatusOr<v1::Referral> now = GetReferral(kSocial, "ref-1");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->status(), v1::REFERRAL_STATUS_ACCEPTED);
  ASSERT_EQ(now->history_size(), 3);
  EXPECT_EQ(now->history(1).detail(), "seen before the upgrade");
  EXPECT_EQ(now->history(2).status(), v1::REFERRAL_STATUS_ACCEPTED);
  ASSERT_TRUE(Ack(kSocial, "msg-1").ok());
  EXPECT_TRUE(Inbox(kSocial).empty());
  // The log went on from the re-keyed nodes: every entry, old and new, is
  // under the signed head.
  EXPECT_EQ(LogSize(), 7u);
  EXPECT_TRUE(HeadCoversLog().ok());
}

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreRegistryConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreReferralConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreConsentConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreLogConformance, SqliteFactory);

}  // namespace liaison::conformance
