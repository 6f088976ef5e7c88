#include "broker/pseudonym.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace liaison {
namespace {

// The milliseconds an id's first 12 hex digits give.
int64_t MillisOf(const std::string& id, size_t prefix) {
  return std::stoll(id.substr(prefix, 12), nullptr, 16);
}

TEST(NewIdTest, IsThePrefixAnd32HexDigits) {
  const std::string id = NewId("ref-");
  ASSERT_EQ(id.size(), 4 + 32u);
  EXPECT_EQ(id.substr(0, 4), "ref-");
  for (char c : id.substr(4)) {
    EXPECT_TRUE(absl::ascii_isxdigit(c) && !absl::ascii_isupper(c)) << id;
  }
}

TEST(NewIdTest, StartsWithTheTimeItWasMade) {
  const int64_t before = absl::ToUnixMillis(absl::Now());
  const std::string id = NewId("msg-");
  const int64_t after = absl::ToUnixMillis(absl::Now());
  EXPECT_GE(MillisOf(id, 4), before);
  EXPECT_LE(MillisOf(id, 4), after);
}

TEST(NewIdTest, IdsMadeLaterSortLater) {
  const std::string first = NewId("case-");
  absl::SleepFor(absl::Milliseconds(3));
  const std::string second = NewId("case-");
  EXPECT_LT(first, second);
}

TEST(NewIdTest, IdsMadeInTheSameMillisecondDiffer) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewId(""));
  EXPECT_EQ(ids.size(), 10000u);
  // The random part is random: not all ids share their last 20 digits'
  // first digit.
  std::set<char> leading;
  for (const std::string& id : ids) leading.insert(id[12]);
  EXPECT_GT(leading.size(), 8u);
}

}  // namespace
}  // namespace liaison
