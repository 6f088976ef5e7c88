#include "broker/store/log_appender.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/log/merkle_testing.h"
#include "gtest/gtest.h"

namespace liaison {
namespace {

// The log as a backend would hold it, in memory, with a switch to fail the
// next write.
class MemoryLogStorage final : public LogStorage {
 public:
  absl::StatusOr<std::string> Node(int level, uint64_t index) const override {
    auto it = nodes.find({level, index});
    if (it == nodes.end()) return absl::DataLossError("node missing");
    return it->second;
  }
  absl::Status WriteEntry(const v1::LogEntry& entry,
                          const std::string& leaf) override {
    if (fail_writes) return absl::UnavailableError("disk full");
    EXPECT_EQ(entry.SerializeAsString(), leaf);
    leaves[entry.sequence()] = leaf;
    return absl::OkStatus();
  }
  absl::Status WriteNodes(
      const std::vector<merkle::StoredNode>& written) override {
    for (const merkle::StoredNode& n : written) {
      EXPECT_TRUE(
          nodes.emplace(std::make_pair(n.level, n.index), n.hash).second)
          << "node (" << n.level << ", " << n.index << ") written twice";
    }
    return absl::OkStatus();
  }
  absl::Status SealStatement(const std::string& digest,
                             const std::string& statement) override {
    sealed.emplace(digest, statement);
    return absl::OkStatus();
  }
  absl::Status WriteHead(const v1::TreeHead& head) override {
    heads.push_back(head);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::TreeHead>> LatestHead() override {
    if (heads.empty()) return std::optional<v1::TreeHead>();
    return std::optional<v1::TreeHead>(heads.back());
  }

  std::map<uint64_t, std::string> leaves;
  std::map<std::pair<int, uint64_t>, std::string> nodes;
  std::map<std::string, std::string> sealed;
  std::vector<v1::TreeHead> heads;
  bool fail_writes = false;
};

class SetClock final : public Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = absl::FromUnixSeconds(1800000000);
};

absl::Time TimeOf(const v1::TreeHead& head) {
  return absl::FromUnixSeconds(head.time().seconds()) +
         absl::Nanoseconds(head.time().nanos());
}

v1::LogEntry Disclosure(int n) {
  v1::LogEntry e;
  e.set_kind(v1::ENTRY_KIND_DISCLOSURE);
  e.set_actor("liaison://agency/health/st-olavs");
  e.set_message_id(absl::StrCat("m-", n));
  e.set_allowed(true);
  return e;
}

class LogAppenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/log_appender_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    absl::StatusOr<LogSigner> signer =
        LogSigner::LoadOrCreate(dir_ + "/log.key", dir_ + "/log.pub");
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = std::make_unique<LogSigner>(*std::move(signer));
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string dir_;
  std::unique_ptr<LogSigner> signer_;
  SetClock clock_;
  MemoryLogStorage storage_;
};

TEST_F(LogAppenderTest, SequencesGapFreeAndSignsTheRootOfEveryGroup) {
  LogAppender appender(signer_.get(), &clock_);
  ASSERT_TRUE(appender.StartAt(storage_, 0).ok());
  std::vector<std::string> leaves;
  for (int group = 0; group < 5; ++group) {
    const uint64_t before = appender.size();
    for (int i = 0; i <= group; ++i) {
      v1::LogEntry e = Disclosure(static_cast<int>(leaves.size()));
      ASSERT_TRUE(appender.Append(storage_, &e).ok());
      EXPECT_EQ(e.sequence(), leaves.size());
      leaves.push_back(e.SerializeAsString());
    }
    clock_.now += absl::Seconds(1);
    ASSERT_TRUE(appender.SignHead(storage_, before).ok());
    const v1::TreeHead& head = storage_.heads.back();
    EXPECT_EQ(head.tree_size(), leaves.size());
    EXPECT_EQ(head.root_hash(),
              merkle::ReferenceRoot(leaves, 0, leaves.size()));
    EXPECT_EQ(TimeOf(head), clock_.now);
    EXPECT_TRUE(VerifyTreeHead(head, signer_->public_key()).ok());
  }
  EXPECT_EQ(storage_.heads.size(), 5u);
  EXPECT_EQ(storage_.leaves.size(), 15u);
}

TEST_F(LogAppenderTest, AGroupThatAppendedNothingSignsNothing) {
  LogAppender appender(signer_.get(), &clock_);
  ASSERT_TRUE(appender.SignHead(storage_, 0).ok());
  EXPECT_TRUE(storage_.heads.empty());
}

TEST_F(LogAppenderTest, StatementsAreSealedOutsideTheEntry) {
  LogAppender appender(signer_.get(), &clock_);
  ASSERT_TRUE(appender.StartAt(storage_, 0).ok());
  v1::LogEntry e = Disclosure(0);
  e.set_kind(v1::ENTRY_KIND_OVERRIDE);
  e.set_statement_digest("digest-1");
  e.mutable_justification()->set_statement("the child said she is afraid");
  ASSERT_TRUE(appender.Append(storage_, &e).ok());
  EXPECT_EQ(storage_.sealed.at("digest-1"), "the child said she is afraid");
  EXPECT_TRUE(e.justification().statement().empty());
  EXPECT_EQ(storage_.leaves.at(0).find("afraid"), std::string::npos);
  EXPECT_EQ(storage_.leaves.at(0), e.SerializeAsString());
}

TEST_F(LogAppenderTest, HeadsNeverGoBackInTimeWhenTheClockDoes) {
  LogAppender appender(signer_.get(), &clock_);
  ASSERT_TRUE(appender.StartAt(storage_, 0).ok());
  v1::LogEntry a = Disclosure(0);
  ASSERT_TRUE(appender.Append(storage_, &a).ok());
  ASSERT_TRUE(appender.SignHead(storage_, 0).ok());
  const absl::Time first = TimeOf(storage_.heads.back());
  clock_.now -= absl::Hours(1);
  v1::LogEntry b = Disclosure(1);
  ASSERT_TRUE(appender.Append(storage_, &b).ok());
  ASSERT_TRUE(appender.SignHead(storage_, 1).ok());
  EXPECT_EQ(TimeOf(storage_.heads.back()), first);
  EXPECT_TRUE(
      VerifyTreeHead(storage_.heads.back(), signer_->public_key()).ok());
}

TEST_F(LogAppenderTest, RewindReusesTheSequencesOfRolledBackEntries) {
  LogAppender appender(signer_.get(), &clock_);
  ASSERT_TRUE(appender.StartAt(storage_, 0).ok());
  v1::LogEntry a = Disclosure(0);
  ASSERT_TRUE(appender.Append(storage_, &a).ok());
  storage_.fail_writes = true;
  v1::LogEntry b = Disclosure(1);
  EXPECT_EQ(appender.Append(storage_, &b).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(appender.size(), 1u);  // a failed write takes no sequence
  // A backend that rolls back the first entry too rewinds the appender.
  storage_.leaves.clear();
  storage_.nodes.clear();
  ASSERT_TRUE(appender.RewindTo(storage_, 0).ok());
  storage_.fail_writes = false;
  v1::LogEntry c = Disclosure(2);
  ASSERT_TRUE(appender.Append(storage_, &c).ok());
  EXPECT_EQ(c.sequence(), 0u);
}

TEST_F(LogAppenderTest, SignsIfBehindOnceAndRefusesAHeadBeyondTheLog) {
  // A log written without a signer: three entries, no head.
  LogAppender unsigned_appender(nullptr, &clock_);
  ASSERT_TRUE(unsigned_appender.StartAt(storage_, 0).ok());
  for (int i = 0; i < 3; ++i) {
    v1::LogEntry e = Disclosure(i);
    ASSERT_TRUE(unsigned_appender.Append(storage_, &e).ok());
  }
  ASSERT_TRUE(unsigned_appender.SignHead(storage_, 0).ok());
  EXPECT_TRUE(storage_.heads.empty());

  LogAppender appender(signer_.get(), &clock_);
  ASSERT_TRUE(appender.StartAt(storage_, 3).ok());
  ASSERT_TRUE(appender.SignIfBehind(storage_).ok());
  ASSERT_EQ(storage_.heads.size(), 1u);
  EXPECT_EQ(storage_.heads[0].tree_size(), 3u);
  ASSERT_TRUE(appender.SignIfBehind(storage_).ok());
  EXPECT_EQ(storage_.heads.size(), 1u);

  // Storage that lost entries a head committed to is data loss, not a
  // smaller head.
  LogAppender short_log(signer_.get(), &clock_);
  ASSERT_TRUE(short_log.StartAt(storage_, 2).ok());
  EXPECT_EQ(short_log.SignIfBehind(storage_).code(),
            absl::StatusCode::kDataLoss);
}

// Several brokers append to one log in turn (PostgreSQL): each starts its
// group at the size the storage holds, reads the tree's edge once when
// another appended meanwhile, and the heads stay the RFC 9162 root.
TEST_F(LogAppenderTest, AppendersTakingTurnsContinueOneTree) {
  LogAppender a(signer_.get(), &clock_), b(signer_.get(), &clock_);
  std::vector<std::string> leaves;
  auto append = [&](LogAppender& appender, int n) {
    ASSERT_TRUE(appender.StartAt(storage_, leaves.size()).ok());
    const uint64_t before = appender.size();
    for (int i = 0; i < n; ++i) {
      v1::LogEntry e = Disclosure(static_cast<int>(leaves.size()));
      ASSERT_TRUE(appender.Append(storage_, &e).ok());
      ASSERT_EQ(e.sequence(), leaves.size());
      leaves.push_back(e.SerializeAsString());
    }
    ASSERT_TRUE(appender.SignHead(storage_, before).ok());
    EXPECT_EQ(storage_.heads.back().tree_size(), leaves.size());
    EXPECT_EQ(storage_.heads.back().root_hash(),
              merkle::ReferenceRoot(leaves, 0, leaves.size()));
  };
  append(a, 7);
  append(b, 6);
  append(a, 3);
  append(a, 1);
  append(b, 16);
  EXPECT_EQ(leaves.size(), 33u);
  // Every stored node is the root of its perfect subtree.
  for (const auto& [key, hash] : storage_.nodes) {
    const uint64_t first = key.second << key.first;
    EXPECT_EQ(hash,
              merkle::ReferenceRoot(leaves, first, first + (1ull << key.first)))
        << "node (" << key.first << ", " << key.second << ")";
  }
}

TEST_F(LogAppenderTest, AnAppenderNotStartedRefusesToGuessTheSequence) {
  LogAppender appender(signer_.get(), &clock_);
  v1::LogEntry e = Disclosure(0);
  EXPECT_EQ(appender.Append(storage_, &e).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(storage_.leaves.empty());
  // A storage missing the nodes of its own edge cannot be started on.
  EXPECT_EQ(appender.StartAt(storage_, 5).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(appender.started());
}

}  // namespace
}  // namespace liaison
