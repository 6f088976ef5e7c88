#include "broker/log/tree_head.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace liaison {
namespace {

class TreeHeadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/tree_head_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(TreeHeadTest, SignedHeadVerifiesAndAnyChangeBreaksIt) {
  absl::StatusOr<LogSigner> signer =
      LogSigner::LoadOrCreate(dir_ + "/log.key", dir_ + "/log.pub");
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string root(32, 'r');
  absl::StatusOr<v1::TreeHead> head =
      signer->Sign(7, root, absl::FromUnixSeconds(1790000000));
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->key_id(), LogKeyId(signer->public_key()));
  EXPECT_TRUE(VerifyTreeHead(*head, signer->public_key()).ok());

  v1::TreeHead bigger = *head;
  bigger.set_tree_size(8);
  EXPECT_FALSE(VerifyTreeHead(bigger, signer->public_key()).ok());
  v1::TreeHead other_root = *head;
  other_root.mutable_root_hash()->back() ^= 1;
  EXPECT_FALSE(VerifyTreeHead(other_root, signer->public_key()).ok());
  v1::TreeHead later = *head;
  later.mutable_time()->set_nanos(1);
  EXPECT_FALSE(VerifyTreeHead(later, signer->public_key()).ok());
  v1::TreeHead bad_sig = *head;
  bad_sig.mutable_signature()->front() ^= 1;
  EXPECT_FALSE(VerifyTreeHead(bad_sig, signer->public_key()).ok());
}

TEST_F(TreeHeadTest, KeyPersistsAndPublicFileReadsBack) {
  absl::StatusOr<LogSigner> first =
      LogSigner::LoadOrCreate(dir_ + "/log.key", dir_ + "/log.pub");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<LogSigner> again =
      LogSigner::LoadOrCreate(dir_ + "/log.key", dir_ + "/log.pub");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(first->public_key(), again->public_key());

  absl::StatusOr<std::string> pinned = ReadLogPublicKeyFile(dir_ + "/log.pub");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(*pinned, first->public_key());

  // Another broker's key does not verify this broker's heads.
  absl::StatusOr<LogSigner> stranger =
      LogSigner::LoadOrCreate(dir_ + "/other.key", dir_ + "/other.pub");
  ASSERT_TRUE(stranger.ok());
  absl::StatusOr<v1::TreeHead> head =
      first->Sign(1, std::string(32, 'x'), absl::Now());
  ASSERT_TRUE(head.ok());
  absl::Status s = VerifyTreeHead(*head, stranger->public_key());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("signed by key"), std::string::npos) << s;
}

TEST_F(TreeHeadTest, PublicKeyFileErrorsNameTheFile) {
  const std::string path = dir_ + "/junk.pub";
  FILE* f = fopen(path.c_str(), "w");
  fputs("not a key\n", f);
  fclose(f);
  absl::StatusOr<std::string> key = ReadLogPublicKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find(path), std::string::npos);
  EXPECT_TRUE(
      absl::IsNotFound(ReadLogPublicKeyFile(dir_ + "/missing.pub").status()));
}

}  // namespace
}  // namespace liaison
