// The disclosure log's append path, written once for every backend
// (DESIGN.md sections 7 and 8): sequencing, sealing an override's
// statement, the Merkle nodes each entry completes, and the signed tree
// head of every commit. A backend only persists what the appender hands it,
// through LogStorage, inside the transaction of the commit that appends;
// so an entry, its nodes and its head are durable together with the state
// they describe, or not at all.
#ifndef LIAISON_BROKER_STORE_LOG_APPENDER_H_
#define LIAISON_BROKER_STORE_LOG_APPENDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/basics/clock.h"
#include "broker/log/merkle.h"
#include "broker/log/tree_head.h"
#include "liaison/v1/log.pb.h"

namespace liaison {

// What a backend stores for the log. Every call runs inside the backend's
// open transaction; nothing here commits. Node() (from merkle::NodeReader)
// must see the nodes written earlier in the same transaction.
class LogStorage : public merkle::NodeReader {
 public:
  // Stores `leaf` (the serialized `entry`, whose sequence is set) under
  // the entry's sequence, and whatever the backend indexes entries by.
  virtual absl::Status WriteEntry(const v1::LogEntry& entry,
                                  const std::string& leaf) = 0;
  // Stores perfect-subtree hashes; each (level, index) is written once.
  virtual absl::Status WriteNodes(
      const std::vector<merkle::StoredNode>& nodes) = 0;
  // Keeps an override's statement, outside the log, under its digest. The
  // same digest may be sealed again: the first copy stays.
  virtual absl::Status SealStatement(const std::string& digest,
                                     const std::string& statement) = 0;
  virtual absl::Status WriteHead(const v1::TreeHead& head) = 0;
  // The newest head stored; nullopt before the first.
  virtual absl::StatusOr<std::optional<v1::TreeHead>> LatestHead() = 0;
};

// Not thread-safe: a backend calls it from the one thread (or under the one
// lock) that writes the log.
class LogAppender {
 public:
  // `signer` and `clock` must outlive the appender. Without a signer no
  // heads are signed (tests of other parts only).
  LogAppender(const LogSigner* signer, const Clock* clock)
      : signer_(signer), clock_(clock) {}

  // The log's size as the backend's storage holds it, at open or at the
  // start of a commit group (PostgreSQL: read under the log_state row
  // lock): the next entry gets this sequence. When it is not the size the
  // appender already holds (another broker appended meanwhile, or this is
  // the first call), the right edge of the tree is read from `storage`:
  // O(log n) nodes, once.
  absl::Status StartAt(LogStorage& storage, uint64_t durable_size);
  // Entries in the log, including those appended in the open transaction.
  uint64_t size() const { return size_; }

  // False until StartAt succeeds, and again after a RewindTo that could
  // not read the edge back; then Append refuses until StartAt.
  bool started() const { return started_; }
  // Forgets the entries appended after `size`, whose writes the backend
  // rolled back (a failed operation's savepoint, a failed commit), and
  // reads the edge of the tree of `size` leaves back from `storage`. Rare,
  // so it costs the reads that appends save.
  absl::Status RewindTo(LogStorage& storage, uint64_t size);
  // Forgets where the log ends, when a commit failed and the edge cannot
  // be read back (the connection went with it): the next StartAt reads it
  // from storage whatever size it is given.
  void Forget() { started_ = false; }

  // Gives `entry` the next sequence, seals its justification's statement
  // (cleared from the entry, whose statement_digest names it) and writes
  // the entry and the tree nodes it completes. Reads nothing from storage.
  absl::Status Append(LogStorage& storage, v1::LogEntry* entry);

  // When the log grew past `size_before`, signs a head for it, stamped by
  // the clock but never earlier than the newest head stored (a clock that
  // steps back does not make heads go back in time), and writes it. Call
  // before the commit, so no entry is answered before a durable head
  // commits to it.
  absl::Status SignHead(LogStorage& storage, uint64_t size_before);
  // Signs a head for the whole log unless the newest stored head covers
  // it already (a log written without a signer, or by an older version).
  absl::Status SignIfBehind(LogStorage& storage);

 private:
  absl::Status Sign(LogStorage& storage,
                    const std::optional<v1::TreeHead>& latest);

  // The root of the first size_ leaves, from the edge alone.
  std::string Root() const;

  const LogSigner* const signer_;
  const Clock* const clock_;
  uint64_t size_ = 0;
  // The right edge of the tree: the roots of the perfect subtrees the
  // first size_ leaves decompose into, largest (leftmost) first, one per
  // bit set in size_. Every append combines only with these, so an append
  // and a head need no reads.
  std::vector<std::string> edge_;
  bool started_ = false;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_LOG_APPENDER_H_
