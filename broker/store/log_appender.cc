#include "broker/store/log_appender.h"

#include <algorithm>
#include <utility>

#include "broker/basics/status_macros.h"

namespace liaison {

absl::Status LogAppender::Append(LogStorage& storage, v1::LogEntry* entry) {
  if (!started_) {
    return absl::FailedPreconditionError(
        "the log appender does not know where the log ends; the store must "
        "start it at the log's size first");
  }
  if (entry->has_justification() &&
      !entry->justification().statement().empty()) {
    // Sealed beside the log, never in it: the entry keeps the digest.
    RETURN_IF_ERROR(storage.SealStatement(entry->statement_digest(),
                                          entry->justification().statement()));
    entry->mutable_justification()->clear_statement();
  }
  entry->set_sequence(size_);
  const std::string leaf = entry->SerializeAsString();
  RETURN_IF_ERROR(storage.WriteEntry(*entry, leaf));
  // The leaf, and each perfect subtree it completes: while the count of
  // leaves below it is odd at a level, it pairs with the edge's last root.
  std::vector<merkle::StoredNode> nodes;
  std::vector<std::string> edge = edge_;
  std::string hash = merkle::LeafHash(leaf);
  uint64_t index = size_;
  int level = 0;
  nodes.push_back({level, index, hash});
  while (index & 1) {
    hash = merkle::NodeHash(edge.back(), hash);
    edge.pop_back();
    index >>= 1;
    ++level;
    nodes.push_back({level, index, hash});
  }
  edge.push_back(std::move(hash));
  RETURN_IF_ERROR(storage.WriteNodes(nodes));
  edge_ = std::move(edge);
  ++size_;
  return absl::OkStatus();
}

absl::Status LogAppender::StartAt(LogStorage& storage, uint64_t durable_size) {
  if (started_ && durable_size == size_) return absl::OkStatus();
  std::vector<std::string> edge;
  uint64_t covered = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((durable_size & width) == 0) continue;
    ASSIGN_OR_RETURN(std::string node, storage.Node(level, covered >> level));
    edge.push_back(std::move(node));
    covered += width;
  }
  edge_ = std::move(edge);
  size_ = durable_size;
  started_ = true;
  return absl::OkStatus();
}

absl::Status LogAppender::RewindTo(LogStorage& storage, uint64_t size) {
  started_ = false;
  return StartAt(storage, size);
}

std::string LogAppender::Root() const {
  if (edge_.empty()) return merkle::EmptyRoot();
  std::string root = edge_.back();
  for (size_t i = edge_.size() - 1; i-- > 0;) {
    root = merkle::NodeHash(edge_[i], root);
  }
  return root;
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
  ASSIGN_OR_RETURN(v1::TreeHead head, signer_->Sign(size_, Root(), at));
  return storage.WriteHead(head);
}

}  // namespace liaison
