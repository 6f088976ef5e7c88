// The PostgreSQL backend against the Store conformance suites, on a
// throw-away server started once for the whole binary.
#include <cctype>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "broker/domain_rules.h"
#include "broker/store/postgres/pg_store.h"
#include "broker/store/store_conformance.h"
#include "broker/store/store_conformance_consents.h"
#include "broker/store/store_conformance_log.h"
#include "broker/store/store_conformance_referrals.h"
#include "broker/store/store_conformance_registry.h"
#include "tests/common/pg_cluster.h"

namespace liaison::conformance {
namespace {

using ::liaison::testing::PgCluster;

// The server, and the databases made so far: one per test directory, so a
// reopen finds the state the test left.
struct Server {
  absl::Mutex mu;
  std::unique_ptr<PgCluster> cluster ABSL_GUARDED_BY(mu);
  std::set<std::string> databases ABSL_GUARDED_BY(mu);
};

Server& TheServer() {
  static Server* server = new Server;
  return *server;
}

class StopServer : public ::testing::Environment {
 public:
  void TearDown() override {
    absl::MutexLock lock(&TheServer().mu);
    TheServer().cluster.reset();
  }
};
const auto* const kStopServer =
    ::testing::AddGlobalTestEnvironment(new StopServer);

// A database name from the test's directory (".../conformanceXXXXXX/store").
std::string DatabaseFor(const std::string& dir) {
  std::string name = "t";
  for (char c : dir) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return name.size() > 60 ? name.substr(name.size() - 60) : name;
}

struct PostgresFactory {
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreSetup& setup) {
    Server& server = TheServer();
    std::string conninfo;
    {
      absl::MutexLock lock(&server.mu);
      if (server.cluster == nullptr) {
        absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
        if (!cluster.ok()) return cluster.status();
        server.cluster = *std::move(cluster);
      }
      const std::string database = DatabaseFor(setup.dir);
      if (server.databases.insert(database).second) {
        absl::Status s = server.cluster->CreateDatabase(database);
        if (!s.ok()) return s;
      }
      conninfo = server.cluster->Conninfo(database);
    }
    PostgresStoreOptions options;
    options.conninfo = conninfo;
    options.signer = setup.signer;
    options.clock = setup.clock;
    options.rules = &BrokerRules();
    absl::StatusOr<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(*std::move(store));
  }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreRegistryConformance,
                               PostgresFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreReferralConformance,
                               PostgresFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreConsentConformance,
                               PostgresFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreLogConformance, PostgresFactory);

}  // namespace liaison::conformance
