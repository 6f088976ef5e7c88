// The SQLite backend against the Store conformance suites.
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

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreRegistryConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreReferralConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreConsentConformance, SqliteFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreLogConformance, SqliteFactory);

}  // namespace liaison::conformance
