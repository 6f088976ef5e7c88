#include "broker/basics/command_line.h"

#include <gtest/gtest.h>

#include <optional>

#include <string>
#include <vector>

#include "absl/flags/flag.h"

ABSL_FLAG(double, scan_test_seconds, 1.5, "A decimal flag, for the test.");
ABSL_FLAG(bool, scan_test_follow, false, "A boolean flag, for the test.");

namespace liaison::cli {
namespace {

CommandLine Scan(std::vector<std::string> args,
                 const std::vector<FlagSpec>& flags) {
  std::vector<char*> argv;
  static std::string tool = "tool";
  argv.push_back(tool.data());
  for (std::string& a : args) argv.push_back(a.data());
  return ScanCommandLine(static_cast<int>(argv.size()), argv.data(), flags);
}

TEST(ScanCommandLine, DecimalsAreCheckedAndTheFirstUnknownFlagIsNamed) {
  const std::vector<FlagSpec> flags = {{"timeout", FlagType::kDouble},
                                       {"count", FlagType::kInt}};
  CommandLine ok = Scan({"run", "--timeout=2.5", "--count", "3"}, flags);
  EXPECT_TRUE(ok.error.empty()) << ok.error;
  EXPECT_EQ(ok.positional, std::vector<std::string>{"run"});
  EXPECT_EQ(ok.values["timeout"], std::vector<std::string>{"2.5"});
  EXPECT_EQ(ok.values["count"], std::vector<std::string>{"3"});

  CommandLine bad = Scan({"--timeout=soon"}, flags);
  EXPECT_EQ(bad.error, "--timeout=soon is not a number");
  EXPECT_TRUE(bad.unknown.empty());

  CommandLine unknown =
      Scan({"--count=x", "--colour=red", "--size=2", "run"}, flags);
  EXPECT_EQ(unknown.error, "--count=x is not a whole number");
  EXPECT_EQ(unknown.unknown, "--colour=red");
}

TEST(RegisteredFlags, TypesEveryAbslFlagOfTheProgram) {
  const std::vector<FlagSpec> flags = RegisteredFlags();
  auto type_of = [&](absl::string_view name) -> std::optional<FlagType> {
    for (const FlagSpec& f : flags) {
      if (f.name == name) return f.type;
    }
    return std::nullopt;
  };
  EXPECT_EQ(type_of("scan_test_seconds"), FlagType::kDouble);
  EXPECT_EQ(type_of("scan_test_follow"), FlagType::kBool);
  CommandLine line = Scan({"--noscan_test_follow", "--scan_test_seconds=x"},
                          flags);
  EXPECT_EQ(line.values["scan_test_follow"], std::vector<std::string>{"false"});
  EXPECT_EQ(line.error, "--scan_test_seconds=x is not a number");
}

}  // namespace
}  // namespace liaison::cli
