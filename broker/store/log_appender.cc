#include "broker/store/log_appender.h"

#include <algorithm>
#include <utility>

#include "broker/basics/status_macros.h"

namespace liaison {

absl::Status LogAppender::Append(LogStorage& storage, v1::LogEntry* entry) {
  if (entry->has_justification() &&
      !entry->justification().statement().empty()) {
    // Sealed beside the log, never in it: the entry keeps the digest.
    RETURN_IF_ERROR(storage.SealStatement(
        entry->statement_digest(), entry->justification().statement()));
    entry->mutable_justification()->clear_statement();
  }
  entry->set_sequence(size_);
  const std::string leaf = entry->SerializeAsString();
  RETURN_IF_ERROR(storage.WriteEntry(*entry, leaf));
  ASSIGN_OR_RETURN(
      std::vector<merkle::StoredNode> nodes,
      merkle::NodesCompletedBy(storage, size_, merkle::LeafHash(leaf)));
  RETURN_IF_ERROR(storage.WriteNodes(nodes));
  ++size_;
  return absl::OkStatus();
}

absl::Status LogAppender::SignHead(LogStorage& storage, uint64_t size_before) {
  if (signer_ == nullptr || size_ == size_before) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<v1::TreeHead> latest, storage.LatestHead());
  return Sign(storage, latest);
}

absl::Status LogAppender::SignIfBehind(LogStorage& storage) {
  if (signer_ == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<v1::TreeHead> latest, storage.LatestHead());
  if (latest.has_value() && latest->tree_size() == size_) {
    return absl::OkStatus();
  }
  return Sign(storage, latest);
}

absl::Status LogAppender::Sign(LogStorage& storage,
                               const std::optional<v1::TreeHead>& latest) {
  if (latest.has_value() && latest->tree_size() > size_) {
    return absl::DataLossError(
        "the newest signed tree head covers more entries than the log holds");
  }
  absl::Time at = clock_->Now();
  if (latest.has_value()) {
    const absl::Time previous =
        absl::FromUnixSeconds(latest->time().seconds()) +
        absl::Nanoseconds(latest->time().nanos());
    at = std::max(at, previous);
  }
  ASSIGN_OR_RETURN(std::string root, merkle::Root(storage, size_));
  ASSIGN_OR_RETURN(v1::TreeHead head, signer_->Sign(size_, root, at));
  return storage.WriteHead(head);
}

}  // namespace liaison
