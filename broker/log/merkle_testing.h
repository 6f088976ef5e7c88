// For tests: the Merkle tree hash computed straight from RFC 9162 section
// 2.1.1 over the leaves themselves, to check stored trees and signed roots
// against.
#ifndef LIAISON_BROKER_LOG_MERKLE_TESTING_H_
#define LIAISON_BROKER_LOG_MERKLE_TESTING_H_

#include <string>
#include <vector>

#include "broker/log/merkle.h"

namespace liaison::merkle {

// MTH of leaves[begin, end).
inline std::string ReferenceRoot(const std::vector<std::string>& leaves,
                                 size_t begin, size_t end) {
  if (end == begin) return EmptyRoot();
  if (end - begin == 1) return LeafHash(leaves[begin]);
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return NodeHash(ReferenceRoot(leaves, begin, begin + k),
                  ReferenceRoot(leaves, begin + k, end));
}

}  // namespace liaison::merkle

#endif  // LIAISON_BROKER_LOG_MERKLE_TESTING_H_
