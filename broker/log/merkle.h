// The disclosure log's Merkle tree, RFC 9162 (RFC 6962 hashing): leaf hash
// SHA-256(0x00 || entry), node hash SHA-256(0x01 || left || right). Pure
// functions over a NodeReader, so a proof reads O(log n) stored nodes and
// never the whole log; verification needs nothing but the proof.
#ifndef LIAISON_BROKER_LOG_MERKLE_H_
#define LIAISON_BROKER_LOG_MERKLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liaison::merkle {

// 32-byte SHA-256 hashes, as raw bytes.
std::string LeafHash(absl::string_view entry);
std::string NodeHash(absl::string_view left, absl::string_view right);
// The root of the empty tree, SHA-256 of nothing.
std::string EmptyRoot();

// Hashes of perfect subtrees: node (level, index) covers leaves
// [index * 2^level, (index + 1) * 2^level); level 0 holds leaf hashes.
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  virtual absl::StatusOr<std::string> Node(int level, uint64_t index) const = 0;
};

struct StoredNode {
  int level;
  uint64_t index;
  std::string hash;
};

// The nodes to store when leaf `index` (hash `leaf_hash`) is appended: the
// leaf itself and every perfect subtree it completes. Reads the left
// siblings it combines with.
absl::StatusOr<std::vector<StoredNode>> NodesCompletedBy(
    const NodeReader& nodes, uint64_t index, const std::string& leaf_hash);

// The root of the first `size` leaves.
absl::StatusOr<std::string> Root(const NodeReader& nodes, uint64_t size);

// RFC 9162 section 2.1.3.1: the audit path of leaf `index` in the tree of
// `size` leaves. OUT_OF_RANGE when index >= size.
absl::StatusOr<std::vector<std::string>> InclusionProof(const NodeReader& nodes,
                                                        uint64_t index,
                                                        uint64_t size);

// RFC 9162 section 2.1.4.1: the proof that the tree of `size1` leaves is a
// prefix of the tree of `size2`. OUT_OF_RANGE unless 0 < size1 <= size2.
absl::StatusOr<std::vector<std::string>> ConsistencyProof(
    const NodeReader& nodes, uint64_t size1, uint64_t size2);

// RFC 9162 section 2.1.3.2. OK when `proof` shows `leaf_hash` at `index`
// in the tree of `size` leaves with root `root`; otherwise
// FAILED_PRECONDITION saying what does not hold.
absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             absl::string_view leaf_hash,
                             const std::vector<std::string>& proof,
                             absl::string_view root);

// RFC 9162 section 2.1.4.2. OK when `proof` shows the tree of `size1`
// leaves with `root1` is a prefix of the tree of `size2` with `root2`.
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               absl::string_view root1, absl::string_view root2,
                               const std::vector<std::string>& proof);

}  // namespace liaison::merkle

#endif  // LIAISON_BROKER_LOG_MERKLE_H_
