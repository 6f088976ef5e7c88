#include "broker/basics/files.h"
#include "broker/log/merkle.h"
#include "broker/log/merkle_testing.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "absl/strings/escaping.h"

namespace liaison::merkle {
namespace {

// Perfect-subtree hashes in memory, filled the way the store fills them.
class MemoryNodes final : public NodeReader {
 public:
  absl::StatusOr<std::string> Node(int level, uint64_t index) const override {
    ++reads;
    auto it = nodes_.find({level, index});
    if (it == nodes_.end()) return absl::NotFoundError("no such node");
    return it->second;
  }
  void Append(absl::string_view entry) {
    auto stored = NodesCompletedBy(*this, size_, LeafHash(entry));
    ASSERT_TRUE(stored.ok()) << stored.status();
    for (const StoredNode& n : *stored) nodes_[{n.level, n.index}] = n.hash;
    ++size_;
  }
  uint64_t size() const { return size_; }
  mutable int reads = 0;

 private:
  std::map<std::pair<int, uint64_t>, std::string> nodes_;
  uint64_t size_ = 0;
};


std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

// The eight leaves of the RFC 6962 reference tests, whose roots are
// published with the Certificate Transparency test data.
const std::vector<std::string> kReferenceLeaves = {
    "",
    std::string("\x00", 1),
    "\x10",
    "\x20\x21",
    "\x30\x31",
    "\x40\x41\x42\x43",
    "\x50\x51\x52\x53\x54\x55\x56\x57",
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};

TEST(Merkle, KnownRoots) {
  EXPECT_EQ(Hex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  MemoryNodes nodes;
  for (const std::string& leaf : kReferenceLeaves) nodes.Append(leaf);
  EXPECT_EQ(Hex(*Root(nodes, 1)),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(Hex(*Root(nodes, 8)),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
}

TEST(Merkle, ProofsForEveryPairVerifyAndTamperingFails) {
  std::vector<std::string> leaves;
  MemoryNodes nodes;
  for (int i = 0; i < 40; ++i) {
    leaves.push_back("entry " + std::to_string(i));
    nodes.Append(leaves.back());
  }
  for (uint64_t size = 1; size <= leaves.size(); ++size) {
    const std::string root = *Root(nodes, size);
    ASSERT_EQ(Hex(root), Hex(ReferenceRoot(leaves, 0, size))) << size;
    for (uint64_t i = 0; i < size; ++i) {
      auto proof = InclusionProof(nodes, i, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(
          VerifyInclusion(i, size, LeafHash(leaves[i]), *proof, root).ok())
          << i << "/" << size;
      // Another leaf, another position or a flipped bit all fail.
      EXPECT_FALSE(
          VerifyInclusion(i, size, LeafHash("forged"), *proof, root).ok());
      if (size > 1) {
        EXPECT_FALSE(VerifyInclusion((i + 1) % size, size, LeafHash(leaves[i]),
                                     *proof, root)
                         .ok());
        std::vector<std::string> flipped = *proof;
        flipped[0][0] ^= 1;
        EXPECT_FALSE(
            VerifyInclusion(i, size, LeafHash(leaves[i]), flipped, root).ok());
      }
    }
    for (uint64_t older = 1; older <= size; ++older) {
      auto proof = ConsistencyProof(nodes, older, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      const std::string old_root = *Root(nodes, older);
      EXPECT_TRUE(VerifyConsistency(older, size, old_root, root, *proof).ok())
          << older << "->" << size;
      if (older < size) {
        EXPECT_FALSE(
            VerifyConsistency(older, size, LeafHash("x"), root, *proof).ok());
      }
    }
  }
  EXPECT_EQ(InclusionProof(nodes, 40, 40).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ConsistencyProof(nodes, 0, 4).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(Merkle, ProofsReadLogarithmicallyManyNodes) {
  MemoryNodes nodes;
  for (int i = 0; i < 5000; ++i) nodes.Append(std::to_string(i));
  nodes.reads = 0;
  ASSERT_TRUE(InclusionProof(nodes, 1234, 5000).ok());
  // 5000 leaves: a path of 13 hashes, each from at most ~13 stored nodes.
  EXPECT_LE(nodes.reads, 13 * 13);
  nodes.reads = 0;
  ASSERT_TRUE(ConsistencyProof(nodes, 3001, 5000).ok());
  EXPECT_LE(nodes.reads, 13 * 13);
}

// Published vectors (tests/testdata/rfc6962, from transparency-dev/merkle):
// every case a verifier must accept is accepted, every other refused.
std::vector<std::string> Bytes(const google::protobuf::Value& v) {
  std::vector<std::string> out;
  if (v.kind_case() != google::protobuf::Value::kListValue) return out;
  for (const auto& item : v.list_value().values()) {
    std::string decoded;
    EXPECT_TRUE(absl::Base64Unescape(item.string_value(), &decoded));
    out.push_back(decoded);
  }
  return out;
}

std::string Bytes1(const google::protobuf::Struct& s, const std::string& key) {
  std::string decoded;
  auto it = s.fields().find(key);
  if (it == s.fields().end()) return decoded;
  EXPECT_TRUE(absl::Base64Unescape(it->second.string_value(), &decoded));
  return decoded;
}

// Read from the text itself: some sizes are near 2^64, beyond a double.
uint64_t Number(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\"");
  EXPECT_NE(at, std::string::npos) << key;
  const size_t digits = json.find_first_of("0123456789", at + key.size() + 2);
  return std::stoull(json.substr(digits));
}

TEST(Merkle, PublishedVectors) {
  const std::filesystem::path root = LIAISON_RFC6962_DIR;
  int accepted = 0, refused = 0;
  for (const auto& file : std::filesystem::recursive_directory_iterator(root)) {
    if (file.path().extension() != ".json") continue;
    auto text = ReadFile(file.path().string());
    ASSERT_TRUE(text.ok());
    google::protobuf::Struct v;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*text, &v).ok())
        << file.path();
    const bool want_error = v.fields().at("wantErr").bool_value();
    const auto proof = v.fields().count("proof") ? Bytes(v.fields().at("proof"))
                                                 : std::vector<std::string>{};
    absl::Status got;
    if (v.fields().count("leafIdx")) {
      got = VerifyInclusion(Number(*text, "leafIdx"), Number(*text, "treeSize"),
                            Bytes1(v, "leafHash"), proof, Bytes1(v, "root"));
    } else {
      got = VerifyConsistency(Number(*text, "size1"), Number(*text, "size2"),
                              Bytes1(v, "root1"), Bytes1(v, "root2"), proof);
    }
    EXPECT_EQ(!got.ok(), want_error)
        << file.path() << ": " << v.fields().at("desc").string_value() << ": "
        << got;
    (want_error ? refused : accepted)++;
  }
  // The set holds both kinds; a verifier that refuses everything fails.
  EXPECT_GT(accepted, 10);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace liaison::merkle
