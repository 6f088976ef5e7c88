// What only the PostgreSQL store does: telling the brokers that share a
// database of one another's reloads, on a throw-away server.
#include "broker/store/postgres/pg_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "broker/domain_rules.h"
#include "broker/log/tree_head.h"
#include "tests/common/pg_cluster.h"

namespace liaison {
namespace {

using ::liaison::testing::PgCluster;

// The kinds one broker's store was told of, in order.
struct Heard {
  absl::Mutex mu;
  std::vector<std::string> kinds ABSL_GUARDED_BY(mu);

  bool WaitFor(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return kinds.size() >= n;
    };
    return mu.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<std::string> Kinds() {
    absl::MutexLock lock(&mu);
    return kinds;
  }
};

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateDatabase("liaison").ok());
    char dir[] = "/tmp/liaison-pgstore.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    absl::StatusOr<LogSigner> signer =
        LogSigner::LoadOrCreate(dir_ + "/log.key", dir_ + "/log.pub");
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = std::make_unique<LogSigner>(*std::move(signer));
  }
  void TearDown() override {
    stores_.clear();
    cluster_.reset();
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // A store as one broker opens it, re-checking every `recheck`.
  PostgresStore* Open(Heard* heard, absl::Duration recheck) {
    PostgresStoreOptions options;
    options.conninfo = cluster_->Conninfo("liaison");
    options.signer = signer_.get();
    options.rules = &BrokerRules();
    options.registry_recheck = recheck;
    options.on_reload_announced = [heard](const std::string& kind) {
      absl::MutexLock lock(&heard->mu);
      heard->kinds.push_back(kind);
    };
    absl::StatusOr<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    stores_.push_back(*std::move(store));
    return stores_.back().get();
  }

  absl::Status Announce(PostgresStore* store, const std::string& kind) {
    absl::Notification done;
    absl::Status result;
    store->AnnounceReload(kind, [&](absl::Status s) {
      result = s;
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  std::unique_ptr<PgCluster> cluster_;
  std::string dir_;
  std::unique_ptr<LogSigner> signer_;
  std::vector<std::unique_ptr<PostgresStore>> stores_;
};

TEST_F(PgStoreTest, AReloadAnnouncedThroughOneBrokerReachesEveryBroker) {
  Heard first, second;
  PostgresStore* a = Open(&first, absl::Hours(1));
  PostgresStore* b = Open(&second, absl::Hours(1));
  ASSERT_TRUE(a != nullptr && b != nullptr);
  // Announcements made before a broker starts are in what it read then.
  ASSERT_TRUE(Announce(a, "policy").ok());
  ASSERT_TRUE(first.WaitFor(1, absl::Seconds(10)));
  ASSERT_TRUE(second.WaitFor(1, absl::Seconds(10)));
  Heard late;
  ASSERT_NE(Open(&late, absl::Hours(1)), nullptr);

  ASSERT_TRUE(Announce(b, "crl").ok());
  ASSERT_TRUE(first.WaitFor(2, absl::Seconds(10)));
  ASSERT_TRUE(second.WaitFor(2, absl::Seconds(10)));
  ASSERT_TRUE(late.WaitFor(1, absl::Seconds(10)));
  EXPECT_EQ(first.Kinds(), (std::vector<std::string>{"policy", "crl"}));
  EXPECT_EQ(second.Kinds(), (std::vector<std::string>{"policy", "crl"}));
  EXPECT_EQ(late.Kinds(), std::vector<std::string>{"crl"});
}

TEST_F(PgStoreTest, AnAnnouncementWhoseNotificationWasLostIsFoundAtTheRecheck) {
  Heard heard;
  ASSERT_NE(Open(&heard, absl::Milliseconds(300)), nullptr);
  // Counted, as a broker's announcement is, but never notified.
  absl::StatusOr<std::unique_ptr<pg::Connection>> c =
      pg::Connection::Open(cluster_->Conninfo("liaison"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(
      (*c)->Exec("INSERT INTO reloads (kind, generation) VALUES ('policy', 1)")
          .ok());
  ASSERT_TRUE(heard.WaitFor(1, absl::Seconds(10)));
  EXPECT_EQ(heard.Kinds(), std::vector<std::string>{"policy"});
  // Told once per announcement, not at every re-check.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(heard.Kinds().size(), 1u);
}

}  // namespace
}  // namespace liaison
