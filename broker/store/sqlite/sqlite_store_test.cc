#include "broker/store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "broker/log/merkle.h"
#include "broker/log/tree_head.h"
#include "broker/store/sqlite/sqlite_testing.h"

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
      SqliteStore::Open(TestStoreOptions(path));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->SchemaVersion(), SqliteStore::LatestSchemaVersion());
  EXPECT_GE(SqliteStore::LatestSchemaVersion(), 1);
}

TEST(SqliteStore, AgencySurvivesReopen) {
  const std::string path = TempDbPath();
  {
    auto store = SqliteStore::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->UpsertAgency(HealthAgency()).ok());
    ASSERT_TRUE((*store)
                    ->SetAgencyStatus("st-olavs", v1::AGENCY_STATUS_SUSPENDED,
                                      "audit pending")
                    .ok());
  }
  auto store = SqliteStore::Open(TestStoreOptions(path));
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
  auto store = SqliteStore::Open(TestStoreOptions(TempDbPath()));
  ASSERT_TRUE(store.ok());
  absl::Status s =
      (*store)->SetAgencyStatus("nobody", v1::AGENCY_STATUS_SUSPENDED, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("nobody"), std::string::npos);
  EXPECT_TRUE((*store)->ListAgencies()->empty());
}

TEST(SqliteStore, RefusesFileFromNewerBroker) {
  const std::string path = TempDbPath();
  { ASSERT_TRUE(SqliteStore::Open(TestStoreOptions(path)).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string bump =
      "PRAGMA user_version=" +
      std::to_string(SqliteStore::LatestSchemaVersion() + 1);
  ASSERT_EQ(sqlite3_exec(db, bump.c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(TestStoreOptions(path));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST(SqliteStore, ConcurrentWritesShareCommitsAndAreAnsweredAfterThem) {
  auto store = SqliteStore::Open(TestStoreOptions(TempDbPath()));
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

// Appends `count` entries of about 1 KiB each, `batch` at a time, each
// batch waited for; false if any append failed.
bool AppendEntries(SqliteStore& store, int count, int batch) {
  std::atomic<bool> ok{true};
  for (int done = 0; done < count; done += batch) {
    absl::BlockingCounter remaining(batch);
    for (int i = 0; i < batch; ++i) {
      v1::LogEntry entry;
      entry.set_kind(v1::ENTRY_KIND_DENIAL);
      entry.set_reason(absl::StrCat(done + i, " ", std::string(1000, 'x')));
      store.AppendLog(std::move(entry), [&](absl::StatusOr<uint64_t> seq) {
        if (!seq.ok()) ok = false;
        remaining.DecrementCount();
      });
    }
    remaining.Wait();
  }
  return ok;
}

TEST(SqliteStore, TheCheckpointThreadKeepsTheWalBoundedAndLosesNothing) {
  const std::string path = TempDbPath();
  SqliteStoreOptions options = TestStoreOptions(path);
  options.checkpoint_frames = 200;
  options.restart_frames = 2000;
  constexpr int kEntries = 6000;  // about 4 frames each: 12 restarts' worth
  {
    auto store = SqliteStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(AppendEntries(**store, kEntries, 100));
    const SqliteStore::CommitStats stats = (*store)->Stats();
    EXPECT_GT(stats.checkpoints, 0u) << stats.restarts;
    EXPECT_GT(stats.restarts, 0u);
    EXPECT_EQ(stats.checkpoint_error, "");
    // Frames of 1 KiB pages and their 24-byte headers. Without restarts
    // the WAL would hold every frame written, four times this.
    struct stat wal;
    ASSERT_EQ(stat((path + "-wal").c_str(), &wal), 0);
    EXPECT_LT(wal.st_size, 3 * options.restart_frames * (1024 + 24));
  }
  // Everything appended is in the file, read by a connection of its own.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM log_entries", -1,
                               &count, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(count, 0), kEntries);
  sqlite3_finalize(count);
  sqlite3_close(db);
}

TEST(SqliteStore, RouteToUnregisteredAgencyIsRefusedAndChangesNothing) {
  auto store = SqliteStore::Open(TestStoreOptions(TempDbPath()));
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
  auto store =
      SqliteStore::Open(TestStoreOptions("/nonexistent-dir/sub/liaison.db"));
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent-dir/sub/liaison.db"),
            std::string::npos);
}

// Runs one asynchronous store call and waits for its result.
template <typename T, typename Call>
absl::StatusOr<T> Wait(Call call) {
  absl::Notification done;
  absl::StatusOr<T> result = absl::UnknownError("no answer");
  call([&](absl::StatusOr<T> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

v1::LogEntry Entry(v1::EntryKind kind, const std::string& actor,
                   const std::string& counterpart) {
  v1::LogEntry e;
  e.set_kind(kind);
  e.set_actor(actor);
  e.set_counterpart(counterpart);
  e.set_allowed(true);
  return e;
}

class SignedLog : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = TempDbPath();
    const std::string dir = path_.substr(0, path_.rfind('/'));
    absl::StatusOr<LogSigner> signer =
        LogSigner::LoadOrCreate(dir + "/log.key", dir + "/log.pub");
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = std::make_unique<LogSigner>(*std::move(signer));
    Reopen();
  }
  void Reopen(StoreFiles* files = nullptr) {
    store_.reset();
    SqliteStoreOptions options = TestStoreOptions(path_);
    options.signer = signer_.get();
    options.files = files;
    auto store = SqliteStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  uint64_t Append(v1::LogEntry e) {
    absl::StatusOr<uint64_t> seq = Wait<uint64_t>(
        [&](auto done) { store_->AppendLog(std::move(e), done); });
    EXPECT_TRUE(seq.ok()) << seq.status();
    return seq.ok() ? *seq : ~uint64_t{0};
  }
  v1::TreeHead Head() {
    absl::StatusOr<v1::TreeHead> head =
        Wait<v1::TreeHead>([&](auto done) { store_->LatestTreeHead(done); });
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? *head : v1::TreeHead();
  }

  std::string path_;
  std::unique_ptr<LogSigner> signer_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SignedLog, EveryCommitSignsAHeadOverWhatItAppended) {
  EXPECT_EQ(Head().tree_size(), 0u);
  std::vector<std::string> leaves;
  for (int i = 0; i < 9; ++i) {
    v1::LogEntry e = Entry(v1::ENTRY_KIND_DISCLOSURE,
                           "liaison://agency/health/st-olavs", "malmo-sc");
    e.set_reason(std::to_string(i));
    EXPECT_EQ(Append(e), uint64_t(i));
    e.set_sequence(i);
    leaves.push_back(e.SerializeAsString());
    const v1::TreeHead head = Head();
    EXPECT_EQ(head.tree_size(), uint64_t(i + 1));
    EXPECT_TRUE(VerifyTreeHead(head, signer_->public_key()).ok());
  }
  // The signed root is the RFC 9162 root of exactly those leaves.
  const v1::TreeHead head = Head();
  for (uint64_t i = 0; i < leaves.size(); ++i) {
    absl::StatusOr<v1::InclusionProof> proof = Wait<v1::InclusionProof>(
        [&](auto done) { store_->ProveInclusion(i, 9, done); });
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> hashes(proof->hashes().begin(),
                                    proof->hashes().end());
    EXPECT_TRUE(merkle::VerifyInclusion(i, 9, merkle::LeafHash(leaves[i]),
                                        hashes, head.root_hash())
                    .ok());
  }
  // Reopening keeps the log and its head; a proof beyond it is refused.
  Reopen();
  EXPECT_EQ(Head().root_hash(), head.root_hash());
  absl::StatusOr<v1::ConsistencyProof> beyond = Wait<v1::ConsistencyProof>(
      [&](auto done) { store_->ProveConsistency(3, 10, done); });
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(SignedLog, OverrideReviewsFollowTheQueueAndAreLogged) {
  Append(Entry(v1::ENTRY_KIND_DISCLOSURE, "liaison://agency/health/st-olavs",
               "malmo-sc"));
  const uint64_t override_seq = Append(
      Entry(v1::ENTRY_KIND_OVERRIDE, "liaison://agency/police/p", "st-olavs"));
  auto list = [&](std::optional<std::vector<std::string>> scope,
                  bool reviewed) {
    return Wait<std::vector<v1::OverrideReview>>(
        [&](auto done) { store_->ListOverrideReviews(scope, reviewed, done); });
  };
  auto review = [&](uint64_t seq, v1::OverrideReview::Outcome outcome,
                    std::optional<std::vector<std::string>> scope) {
    OverrideReviewChange change;
    change.override_sequence = seq;
    change.outcome = outcome;
    change.comment = "checked";
    change.scope = scope;
    change.entry =
        Entry(v1::ENTRY_KIND_OVERRIDE_REVIEWED, "liaison://auditor/dpo", "");
    return Wait<uint64_t>(
        [&](auto done) { store_->ReviewOverride(std::move(change), done); });
  };
  ASSERT_EQ(list(std::nullopt, false)->size(), 1u);
  // Outside the scope it is invisible and cannot be reviewed.
  EXPECT_TRUE(list(std::vector<std::string>{"school"}, false)->empty());
  EXPECT_EQ(review(override_seq, v1::OverrideReview::OUTCOME_JUSTIFIED,
                   std::vector<std::string>{"school"})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  // Not an override.
  EXPECT_EQ(review(0, v1::OverrideReview::OUTCOME_JUSTIFIED, std::nullopt)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  // The recipient's auditors neither see nor review it: the override is
  // the disclosing agency's ("p"), and so is its review.
  EXPECT_TRUE(list(std::vector<std::string>{"st-olavs"}, false)->empty());
  EXPECT_EQ(review(override_seq, v1::OverrideReview::OUTCOME_JUSTIFIED,
                   std::vector<std::string>{"st-olavs"})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(list(std::vector<std::string>{"p"}, false)->size(), 1u);
  // Follow-up keeps it in the queue; a final outcome takes it out.
  absl::StatusOr<uint64_t> first =
      review(override_seq, v1::OverrideReview::OUTCOME_NEEDS_FOLLOW_UP,
             std::vector<std::string>{"p"});
  ASSERT_TRUE(first.ok()) << first.status();
  // Entries 0 and 1, the PERMISSION_DENIED attempt appended nothing.
  EXPECT_EQ(*first, 2u);
  // The review names the agency whose data the override disclosed, so
  // auditors scoped to that agency see it.
  LogQuery reviews;
  reviews.kinds.push_back(v1::ENTRY_KIND_OVERRIDE_REVIEWED);
  reviews.agency_sets.push_back({"p"});
  absl::StatusOr<LogPage> seen =
      Wait<LogPage>([&](auto done) { store_->ReadLog(reviews, done); });
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->entries.size(), 1u);
  EXPECT_EQ(seen->entries[0].entry.counterpart(), "p");
  ASSERT_EQ(list(std::nullopt, false)->size(), 1u);
  ASSERT_TRUE(review(override_seq, v1::OverrideReview::OUTCOME_NOT_JUSTIFIED,
                     std::nullopt)
                  .ok());
  EXPECT_TRUE(list(std::nullopt, false)->empty());
  absl::StatusOr<std::vector<v1::OverrideReview>> all =
      list(std::nullopt, true);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].outcome(), v1::OverrideReview::OUTCOME_NOT_JUSTIFIED);
  EXPECT_EQ((*all)[0].reviewer(), "liaison://auditor/dpo");
  absl::StatusOr<uint64_t> again =
      review(override_seq, v1::OverrideReview::OUTCOME_JUSTIFIED, std::nullopt);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Head().tree_size(), 4u);  // the refused review logged nothing
}

TEST_F(SignedLog, MigrationIndexesAndHashesAnOlderLog) {
  // A log written before the index existed: schema version 2.
  store_.reset();
  const std::string old_path = TempDbPath();
  {
    auto store = SqliteStore::Open(TestStoreOptions(old_path));
    ASSERT_TRUE(store.ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, kUndoVersions10And11, nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE log_index; DROP TABLE log_nodes; "
                         "DROP TABLE tree_heads; DROP TABLE override_reviews; "
                         "DROP TABLE summary_requests; "
                         "DROP TABLE consent_uses; DROP TABLE consents; "
                         "DROP TABLE certificates_seen; "
                         "DROP TABLE sealed_statements; "
                         "DROP TABLE override_deadlines; "
                         "DROP TABLE referral_events; "
                         "ALTER TABLE inbox DROP COLUMN from_referral; "
                         "ALTER TABLE cases DROP COLUMN subject_pseudonym; "
                         "PRAGMA user_version=2;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::vector<std::string> leaves;
  for (int i = 0; i < 5; ++i) {
    v1::LogEntry e = Entry(v1::ENTRY_KIND_DENIAL,
                           "liaison://agency/education/school", "malmo-sc");
    e.set_sequence(i);
    leaves.push_back(e.SerializeAsString());
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO log_entries VALUES (?1, ?2)", -1,
                       &insert, nullptr);
    sqlite3_bind_int64(insert, 1, i);
    sqlite3_bind_blob(insert, 2, leaves.back().data(),
                      static_cast<int>(leaves.back().size()), SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_finalize(insert);
  }
  sqlite3_close(db);

  path_ = old_path;
  Reopen();
  EXPECT_EQ(store_->SchemaVersion(), SqliteStore::LatestSchemaVersion());
  const v1::TreeHead head = Head();
  ASSERT_EQ(head.tree_size(), 5u);
  EXPECT_TRUE(VerifyTreeHead(head, signer_->public_key()).ok());
  absl::StatusOr<v1::InclusionProof> proof = Wait<v1::InclusionProof>(
      [&](auto done) { store_->ProveInclusion(3, 5, done); });
  ASSERT_TRUE(proof.ok()) << proof.status();
  std::vector<std::string> hashes(proof->hashes().begin(),
                                  proof->hashes().end());
  EXPECT_TRUE(merkle::VerifyInclusion(3, 5, merkle::LeafHash(leaves[3]), hashes,
                                      head.root_hash())
                  .ok());
  LogQuery query;
  query.agency_sets.push_back({"school"});
  absl::StatusOr<LogPage> page =
      Wait<LogPage>([&](auto done) { store_->ReadLog(query, done); });
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 5u);
  // New entries continue the sequence.
  EXPECT_EQ(Append(Entry(v1::ENTRY_KIND_ADMIN, "liaison://admin/root", "")),
            5u);
}

}  // namespace
}  // namespace liaison

namespace liaison {
namespace {

// Fails every sync of the store's files while `fail_syncs` is set, and
// counts what passed through, to show the store's files go through it.
class FailingFiles final : public StoreFiles {
 public:
  absl::Status BeforeWrite(absl::string_view, int64_t, int) override {
    writes.fetch_add(1);
    return absl::OkStatus();
  }
  absl::Status BeforeSync(absl::string_view path) override {
    if (fail_syncs.load()) {
      failed_syncs.fetch_add(1);
      return absl::DataLossError(absl::StrCat("fsync of ", path, " failed"));
    }
    syncs.fetch_add(1);
    return absl::OkStatus();
  }
  std::atomic<bool> fail_syncs{false};
  std::atomic<int> writes{0}, syncs{0}, failed_syncs{0};
};

TEST_F(SignedLog, AFailedFsyncIsAnErrorAndLosesNothingAcknowledged) {
  FailingFiles files;
  Reopen(&files);
  const v1::LogEntry first =
      Entry(v1::ENTRY_KIND_DISCLOSURE, "liaison://agency/health/st-olavs", "a");
  ASSERT_EQ(Append(first), 0u);
  EXPECT_GT(files.writes.load(), 0);
  EXPECT_GT(files.syncs.load(), 0);
  const v1::TreeHead acknowledged = Head();
  ASSERT_EQ(acknowledged.tree_size(), 1u);

  // The commit's fsync fails: the caller hears so, and the entry has no
  // sequence and no head.
  files.fail_syncs = true;
  absl::StatusOr<uint64_t> failed = Wait<uint64_t>([&](auto done) {
    store_->AppendLog(Entry(v1::ENTRY_KIND_DISCLOSURE,
                            "liaison://agency/health/st-olavs", "lost"),
                      done);
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("could not commit"),
            std::string::npos)
      << failed.status();
  EXPECT_GT(files.failed_syncs.load(), 0);
  EXPECT_EQ(Head().tree_size(), 1u);

  // Once the disk is back the store goes on from where it was: the next
  // entry takes the sequence the failed one did not get.
  files.fail_syncs = false;
  ASSERT_EQ(Append(Entry(v1::ENTRY_KIND_DISCLOSURE,
                         "liaison://agency/health/st-olavs", "b")),
            1u);

  // After a restart: both acknowledged entries, nothing of the failed one,
  // and a head that extends the one the first caller saw.
  Reopen();
  const v1::TreeHead head = Head();
  ASSERT_EQ(head.tree_size(), 2u);
  absl::StatusOr<LogPage> page = Wait<LogPage>([&](auto done) {
    LogQuery all;
    store_->ReadLog(all, done);
  });
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].entry.counterpart(), "a");
  EXPECT_EQ(page->entries[1].entry.counterpart(), "b");
  absl::StatusOr<v1::ConsistencyProof> proof = Wait<v1::ConsistencyProof>(
      [&](auto done) { store_->ProveConsistency(1, 2, done); });
  ASSERT_TRUE(proof.ok()) << proof.status();
  std::vector<std::string> hashes(proof->hashes().begin(),
                                  proof->hashes().end());
  EXPECT_TRUE(merkle::VerifyConsistency(1, 2, acknowledged.root_hash(),
                                        head.root_hash(), hashes)
                  .ok());
}

}  // namespace
}  // namespace liaison
