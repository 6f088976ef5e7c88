#include "broker/log/merkle.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"

namespace liaison::merkle {
namespace {

constexpr size_t kHashSize = SHA256_DIGEST_LENGTH;

std::string Sha256(absl::string_view a, absl::string_view b = {},
                   absl::string_view c = {}) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestUpdate(ctx, c.data(), c.size());
  std::string out(kHashSize, '\0');
  EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()),
                     nullptr);
  EVP_MD_CTX_free(ctx);
  return out;
}

// The largest power of two strictly less than n, for n > 1.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

int Log2(uint64_t n) {
  int level = 0;
  while ((uint64_t{1} << level) < n) ++level;
  return level;
}

// MTH(D[begin:end]), end > begin. The left part of every split is a perfect
// subtree, so this reads O(log n) stored nodes.
absl::StatusOr<std::string> SubtreeHash(const NodeReader& nodes, uint64_t begin,
                                        uint64_t end) {
  const uint64_t n = end - begin;
  if (IsPowerOfTwo(n) && begin % n == 0) {
    const int level = Log2(n);
    return nodes.Node(level, begin >> level);
  }
  const uint64_t k = SplitPoint(n);
  ASSIGN_OR_RETURN(std::string left, SubtreeHash(nodes, begin, begin + k));
  ASSIGN_OR_RETURN(std::string right, SubtreeHash(nodes, begin + k, end));
  return NodeHash(left, right);
}

// PATH(m, D[begin:end]) of RFC 9162, with m relative to begin.
absl::Status Path(const NodeReader& nodes, uint64_t m, uint64_t begin,
                  uint64_t end, std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (n <= 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    RETURN_IF_ERROR(Path(nodes, m, begin, begin + k, out));
    ASSIGN_OR_RETURN(std::string right, SubtreeHash(nodes, begin + k, end));
    out->push_back(std::move(right));
  } else {
    RETURN_IF_ERROR(Path(nodes, m - k, begin + k, end, out));
    ASSIGN_OR_RETURN(std::string left, SubtreeHash(nodes, begin, begin + k));
    out->push_back(std::move(left));
  }
  return absl::OkStatus();
}

// SUBPROOF(m, D[begin:end], whole) of RFC 9162.
absl::Status SubProof(const NodeReader& nodes, uint64_t m, uint64_t begin,
                      uint64_t end, bool whole, std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) {
      ASSIGN_OR_RETURN(std::string hash, SubtreeHash(nodes, begin, end));
      out->push_back(std::move(hash));
    }
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    RETURN_IF_ERROR(SubProof(nodes, m, begin, begin + k, whole, out));
    ASSIGN_OR_RETURN(std::string right, SubtreeHash(nodes, begin + k, end));
    out->push_back(std::move(right));
  } else {
    RETURN_IF_ERROR(SubProof(nodes, m - k, begin + k, end, false, out));
    ASSIGN_OR_RETURN(std::string left, SubtreeHash(nodes, begin, begin + k));
    out->push_back(std::move(left));
  }
  return absl::OkStatus();
}

absl::Status Refuse(absl::string_view why) {
  return absl::FailedPreconditionError(why);
}

}  // namespace

std::string LeafHash(absl::string_view entry) {
  return Sha256(absl::string_view("\x00", 1), entry);
}

std::string NodeHash(absl::string_view left, absl::string_view right) {
  return Sha256("\x01", left, right);
}

std::string EmptyRoot() { return Sha256(""); }

absl::StatusOr<std::vector<StoredNode>> NodesCompletedBy(
    const NodeReader& nodes, uint64_t index, const std::string& leaf_hash) {
  std::vector<StoredNode> out = {{0, index, leaf_hash}};
  uint64_t i = index;
  int level = 0;
  std::string hash = leaf_hash;
  while (i & 1) {
    ASSIGN_OR_RETURN(std::string left, nodes.Node(level, i - 1));
    hash = NodeHash(left, hash);
    ++level;
    i >>= 1;
    out.push_back({level, i, hash});
  }
  return out;
}

absl::StatusOr<std::string> Root(const NodeReader& nodes, uint64_t size) {
  if (size == 0) return EmptyRoot();
  return SubtreeHash(nodes, 0, size);
}

absl::StatusOr<std::vector<std::string>> InclusionProof(const NodeReader& nodes,
                                                        uint64_t index,
                                                        uint64_t size) {
  if (index >= size) {
    return absl::OutOfRangeError(absl::StrCat(
        "entry ", index, " is not in a log of ", size, " entries"));
  }
  std::vector<std::string> out;
  RETURN_IF_ERROR(Path(nodes, index, 0, size, &out));
  return out;
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(
    const NodeReader& nodes, uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 > size2) {
    return absl::OutOfRangeError(absl::StrCat(
        "a consistency proof needs 0 < first size <= second size; got ", size1,
        " and ", size2));
  }
  std::vector<std::string> out;
  RETURN_IF_ERROR(SubProof(nodes, size1, 0, size2, true, &out));
  return out;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             absl::string_view leaf_hash,
                             const std::vector<std::string>& proof,
                             absl::string_view root) {
  if (index >= size) {
    return Refuse(absl::StrCat("leaf index ", index,
                               " is outside a tree of size ", size));
  }
  if (leaf_hash.size() != kHashSize || root.size() != kHashSize) {
    return Refuse("leaf hash and root must be 32-byte SHA-256 hashes");
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (p.size() != kHashSize) return Refuse("a proof hash is not 32 bytes");
    if (sn == 0) return Refuse("the inclusion proof is too long");
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Refuse("the inclusion proof is too short");
  if (r != root) {
    return Refuse("the inclusion proof does not lead to the root");
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               absl::string_view root1, absl::string_view root2,
                               const std::vector<std::string>& proof) {
  if (size2 < size1) {
    return Refuse(absl::StrCat("the second tree (", size2,
                               ") is smaller than the first (", size1, ")"));
  }
  if (size1 == 0) {
    return Refuse(
        "an empty tree is consistent with anything; nothing to "
        "verify");
  }
  if (size1 == size2) {
    if (!proof.empty()) return Refuse("equal sizes need an empty proof");
    if (root1 != root2) return Refuse("equal sizes but different roots");
    return absl::OkStatus();
  }
  if (root1.size() != kHashSize || root2.size() != kHashSize) {
    return Refuse("roots must be 32-byte SHA-256 hashes");
  }
  if (proof.empty()) return Refuse("the consistency proof is empty");
  for (const std::string& p : proof) {
    if (p.size() != kHashSize) return Refuse("a proof hash is not 32 bytes");
  }
  std::vector<std::string> path;
  if (IsPowerOfTwo(size1)) path.emplace_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0];
  std::string sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return Refuse("the consistency proof is too long");
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Refuse("the consistency proof is too short");
  if (fr != root1) {
    return Refuse(
        "the proof does not lead to the first root: the older "
        "log is not a prefix of the newer one");
  }
  if (sr != root2) {
    return Refuse("the proof does not lead to the second root");
  }
  return absl::OkStatus();
}

}  // namespace liaison::merkle
