// The disclosure log's tables in the SQLite store: entries, a search index,
// the Merkle tree's perfect-subtree nodes, the signed tree heads and the
// sealed override statements. The commit thread's LogAppender writes them
// through LogStorage (inside its transaction, so an entry, its nodes and its
// head are durable together with the state they describe); the reader uses
// them to answer auditors.
#ifndef LIAISON_BROKER_STORE_SQLITE_SQLITE_LOG_H_
#define LIAISON_BROKER_STORE_SQLITE_SQLITE_LOG_H_

#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/log/merkle.h"
#include "broker/store/log_appender.h"
#include "broker/store/sqlite/sqlite_query.h"
#include "broker/store/store.h"
#include "liaison/v1/log.pb.h"

namespace liaison::sqlite {

// Schema objects, created by the store's migration 3.
extern const char kLogSchema[];

class LogTables final : public LogStorage {
 public:
  explicit LogTables(sqlite3* db) : db_(db), statements_(db) {}

  // Entries in the log: the next sequence.
  absl::StatusOr<uint64_t> Size();
  // Indexes and hashes entries written before the index existed.
  absl::Status IndexExisting();

  // LogStorage.
  absl::Status WriteEntry(const v1::LogEntry& entry,
                          const std::string& leaf) override;
  absl::Status WriteNodes(const std::vector<merkle::StoredNode>& nodes) override;
  absl::Status SealStatement(const std::string& digest,
                             const std::string& statement) override;
  absl::Status WriteHead(const v1::TreeHead& head) override;
  absl::StatusOr<std::optional<v1::TreeHead>> LatestHead() override;

  absl::StatusOr<LogPage> Read(const LogQuery& query);
  absl::StatusOr<v1::InclusionProof> ProveInclusion(uint64_t sequence,
                                                    uint64_t size);
  absl::StatusOr<v1::ConsistencyProof> ProveConsistency(uint64_t first_size,
                                                        uint64_t second_size);

  absl::StatusOr<std::vector<v1::OverrideReview>> Overrides(
      const std::optional<std::vector<std::string>>& scope,
      bool include_reviewed);
  // Checks the review may be recorded and names, as the review entry's
  // counterpart, the agency whose data the override disclosed, so that
  // auditors scoped to it see the review. SaveReview then records it
  // against `change.entry` (already appended, sequence set).
  absl::Status PrepareReview(OverrideReviewChange* change);
  absl::Status SaveReview(const OverrideReviewChange& change,
                          uint64_t review_sequence);

  // merkle::NodeReader.
  absl::StatusOr<std::string> Node(int level, uint64_t index) const override;

 private:
  absl::Status WriteIndex(const v1::LogEntry& entry);

  // The override at `sequence` if `scope` covers its disclosing agency
  // (`disclosing`), or either of its parties.
  absl::StatusOr<std::optional<v1::OverrideReview>> ReviewOf(
      uint64_t sequence, const std::optional<std::vector<std::string>>& scope,
      bool disclosing);

  sqlite3* const db_;
  // The append path's statements, prepared once.
  mutable StatementCache statements_;
  // Prepared once; the node lookup runs O(log n) times per append.
  mutable std::optional<Query> node_select_;
};

}  // namespace liaison::sqlite

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_LOG_H_
