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
  Connection* const c_;
};

}  // namespace liaison::pg

#endif  // LIAISON_BROKER_STORE_POSTGRES_PG_LOG_H_
