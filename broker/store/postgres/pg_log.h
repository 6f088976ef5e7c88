// The disclosure log's tables in the PostgreSQL store, for the shared
// LogAppender: entries with their search columns, the Merkle tree's
// perfect-subtree nodes, signed heads and sealed override statements.
//
// Several brokers append to one log. Each group commit takes the lock on
// the one log_state row (LockSize), starts its appender at the size found
// there, appends, signs, and records the new size (SaveSize) in the same
// transaction: indices are gap-free and never taken from a sequence.
#ifndef LIAISON_BROKER_STORE_POSTGRES_PG_LOG_H_
#define LIAISON_BROKER_STORE_POSTGRES_PG_LOG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/store/log_appender.h"
#include "broker/store/postgres/pg_connection.h"
#include "broker/store/store.h"
#include "liaison/v1/log.pb.h"

namespace liaison::pg {

class LogTables final : public LogStorage {
 public:
  // `connection` must outlive the tables; calls run in its transaction.
  explicit LogTables(Connection* connection) : c_(connection) {}

  // Inside a transaction: locks the log_state row until the transaction
  // ends and returns the log's size.
  absl::StatusOr<uint64_t> LockSize();
  // Records the size the transaction's appends reached.
  absl::Status SaveSize(uint64_t size);
  // The log's size as committed, without a lock: for readers.
  absl::StatusOr<uint64_t> Size();

  // For auditors, on a reader's connection; as in the SQLite store.
  absl::StatusOr<LogPage> Read(const LogQuery& query);
  absl::StatusOr<v1::InclusionProof> ProveInclusion(uint64_t sequence,
                                                    uint64_t size);
  absl::StatusOr<v1::ConsistencyProof> ProveConsistency(uint64_t first_size,
                                                        uint64_t second_size);
  absl::StatusOr<std::vector<v1::OverrideReview>> Overrides(
      const std::optional<std::vector<std::string>>& scope,
      bool include_reviewed);
  // Checks the review may be recorded and names, as the review entry's
  // counterpart, the agency whose data the override disclosed. SaveReview
  // then records it against the appended review entry.
  absl::Status PrepareReview(OverrideReviewChange* change);
  absl::Status SaveReview(const OverrideReviewChange& change,
                          uint64_t review_sequence);

  // LogStorage.
  absl::StatusOr<std::string> Node(int level, uint64_t index) const override;
  absl::Status WriteEntry(const v1::LogEntry& entry,
                          const std::string& leaf) override;
  absl::Status WriteNodes(
      const std::vector<merkle::StoredNode>& nodes) override;
  absl::Status SealStatement(const std::string& digest,
                             const std::string& statement) override;
  absl::Status WriteHead(const v1::TreeHead& head) override;
  absl::StatusOr<std::optional<v1::TreeHead>> LatestHead() override;

 private:
  // The override at `sequence` if `scope` covers its disclosing agency
  // (`disclosing`), or either of its parties.
  absl::StatusOr<std::optional<v1::OverrideReview>> ReviewOf(
      uint64_t sequence, const std::optional<std::vector<std::string>>& scope,
      bool disclosing);

  Connection* const c_;
};

}  // namespace liaison::pg

#endif  // LIAISON_BROKER_STORE_POSTGRES_PG_LOG_H_
