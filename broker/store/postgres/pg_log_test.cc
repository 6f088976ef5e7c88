#include "broker/store/postgres/pg_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/basics/clock.h"
#include "broker/log/merkle.h"
#include "broker/log/merkle_testing.h"
#include "broker/log/tree_head.h"
#include "broker/store/postgres/pg_schema.h"
#include "tests/common/pg_cluster.h"

namespace liaison::pg {
namespace {

using ::liaison::testing::PgCluster;

// One server for the whole file: starting one takes about a second.
class PgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    database_ = absl::StrCat(
        "t_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : database_) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(cluster_->CreateDatabase(database_).ok());
  }
  std::unique_ptr<Connection> Connect() {
    absl::StatusOr<std::unique_ptr<Connection>> c =
        Connection::Open(cluster_->Conninfo(database_));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  static PgCluster* cluster_;
  std::string database_;
};
PgCluster* PgTest::cluster_ = nullptr;

TEST_F(PgTest, MigrationsRunOnceAndRefuseANewerDatabase) {
  std::unique_ptr<Connection> c = Connect();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<int> first = Migrate(*c);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, LatestSchemaVersion());
  absl::StatusOr<int> again = Migrate(*c);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, LatestSchemaVersion());
  ASSERT_TRUE(c->Exec("UPDATE liaison_schema SET version = 999").ok());
  absl::StatusOr<int> newer = Migrate(*c);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("999"), std::string::npos)
      << newer.status();
}

TEST_F(PgTest, ErrorsSayWhatACallerCanDo) {
  std::unique_ptr<Connection> c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(Migrate(*c).ok());
  const std::vector<Param> node = {Param::Int(0), Param::Int(0),
                                   Param::Bytes(std::string("\0\1\2", 3))};
  const char kInsert[] =
      "INSERT INTO log_nodes (level, idx, hash) VALUES ($1, $2, $3)";
  ASSERT_TRUE(c->Run(kInsert, node).ok());
  absl::StatusOr<Result> twice = c->Run(kInsert, node);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kAlreadyExists)
      << twice.status();
  // Bytes come back as they went in, NUL included.
  absl::StatusOr<Result> read = c->Run("SELECT hash FROM log_nodes");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->Bytes(0, 0), std::string("\0\1\2", 3));
  EXPECT_EQ(c->Exec("SELEKT 1").code(), absl::StatusCode::kInternal);
  absl::StatusOr<std::unique_ptr<Connection>> nowhere =
      Connection::Open("host=/nonexistent-socket-dir dbname=x");
  EXPECT_EQ(nowhere.status().code(), absl::StatusCode::kUnavailable);
}

class SetClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixSeconds(1800000000); }
};

// Three brokers, each with its own connection and appender, commit groups
// to one log at once. The row lock orders them: the log is gap-free, every
// group has a signed head, and the last head is the root of every entry.
TEST_F(PgTest, BrokersAppendingAtOnceKeepOneGapFreeSignedLog) {
  char dir[] = "/tmp/pg_log_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  absl::StatusOr<LogSigner> signer = LogSigner::LoadOrCreate(
      std::string(dir) + "/log.key", std::string(dir) + "/log.pub");
  ASSERT_TRUE(signer.ok()) << signer.status();
  {
    std::unique_ptr<Connection> c = Connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(Migrate(*c).ok());
  }
  SetClock clock;
  constexpr int kBrokers = 3, kGroups = 12, kPerGroup = 5;
  std::vector<std::thread> brokers;
  std::vector<absl::Status> failures(kBrokers);
  for (int b = 0; b < kBrokers; ++b) {
    brokers.emplace_back([&, b] {
      std::unique_ptr<Connection> c = Connect();
      if (c == nullptr) return;
      LogTables tables(c.get());
      LogAppender appender(&*signer, &clock);
      for (int g = 0; g < kGroups && failures[b].ok(); ++g) {
        absl::Status s = c->Exec("BEGIN");
        absl::StatusOr<uint64_t> size = s.ok() ? tables.LockSize() : s;
        s = size.status();
        if (s.ok()) s = appender.StartAt(tables, *size);
        for (int i = 0; s.ok() && i < kPerGroup; ++i) {
          v1::LogEntry e;
          e.set_kind(v1::ENTRY_KIND_DISCLOSURE);
          e.set_actor(absl::StrCat("liaison://agency/health/broker-", b));
          e.set_message_id(absl::StrCat(b, "-", g, "-", i));
          s = appender.Append(tables, &e);
        }
        if (s.ok()) s = appender.SignHead(tables, *size);
        if (s.ok()) s = tables.SaveSize(appender.size());
        if (s.ok()) s = c->Exec("COMMIT");
        if (!s.ok()) {
          c->Exec("ROLLBACK").IgnoreError();
          failures[b] = s;
        }
      }
    });
  }
  for (std::thread& t : brokers) t.join();
  for (const absl::Status& s : failures) ASSERT_TRUE(s.ok()) << s;

  std::unique_ptr<Connection> c = Connect();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<Result> entries =
      c->Run("SELECT seq, entry FROM log_entries ORDER BY seq");
  ASSERT_TRUE(entries.ok()) << entries.status();
  constexpr int kTotal = kBrokers * kGroups * kPerGroup;
  ASSERT_EQ(entries->rows(), kTotal);
  std::vector<std::string> leaves;
  for (int i = 0; i < kTotal; ++i) {
    EXPECT_EQ(entries->Int(i, 0), i);
    leaves.push_back(entries->Bytes(i, 1));
  }
  absl::StatusOr<Result> heads =
      c->Run("SELECT tree_size, head FROM tree_heads ORDER BY tree_size");
  ASSERT_TRUE(heads.ok()) << heads.status();
  EXPECT_EQ(heads->rows(), kBrokers * kGroups);
  for (int i = 0; i < heads->rows(); ++i) {
    v1::TreeHead head;
    ASSERT_TRUE(head.ParseFromString(heads->Bytes(i, 1)));
    EXPECT_TRUE(VerifyTreeHead(head, signer->public_key()).ok());
    EXPECT_EQ(
        head.root_hash(),
        merkle::ReferenceRoot(leaves, 0, static_cast<size_t>(head.tree_size())))
        << "head at " << head.tree_size();
  }
  LogTables tables(c.get());
  absl::StatusOr<std::string> root = merkle::Root(tables, kTotal);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(*root, merkle::ReferenceRoot(leaves, 0, leaves.size()));
  std::system((std::string("rm -rf ") + dir).c_str());
}

}  // namespace
}  // namespace liaison::pg
