#include "policy/policy_set.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/policy_testing.h"
#include "policy/transforms.h"

namespace liaison::policy {
namespace {

// liaison-policy, run as a user would.
struct ToolRun {
  int exit_code;
  std::string output;
};

ToolRun Tool(const std::string& args) {
  const std::string command =
      absl::StrCat(LIAISON_POLICY_BIN, " ", args, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kDefault = std::string(LIAISON_POLICY_DIR) + "/default";
const std::string kExamples = std::string(LIAISON_POLICY_DIR) + "/examples";

TEST(LiaisonPolicy, CheckPassesTheDefaultSetAndNamesTheLineOfATypo) {
  ToolRun ok = Tool("check " + kDefault);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(absl::StrContains(ok.output, "checks: 4 sectors")) << ok.output;

  const std::string dir = ::testing::TempDir() + "/typo-policy";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(kDefault, dir);
  std::ifstream in(dir + "/agreements.textproto");
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  const size_t at = s.find("valid_from: \"2026-01-01\"");
  const int line =
      1 + static_cast<int>(std::count(s.begin(), s.begin() + at, '\n'));
  s.replace(at, 10, "valid_fron");
  std::ofstream(dir + "/agreements.textproto") << s;
  ToolRun bad = Tool("check " + dir);
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(absl::StrContains(
      bad.output, absl::StrCat(dir, "/agreements.textproto:", line, ":")))
      << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "valid_fron")) << bad.output;
}

TEST(LiaisonPolicy, ExplainShowsDecisionReasonsAndRecord) {
  ToolRun social = Tool(
      absl::StrCat("explain --policy=", kDefault,
                   " --from=health --to=social_care --purpose=child_welfare"
                   " --basis=consent --date=2026-11-22 --record=",
                   kExamples, "/health-record.textproto"));
  EXPECT_EQ(social.exit_code, 0) << social.output;
  for (const char* want :
       {"ALLOWED at LEVEL_CATEGORY", "health-to-social-care-welfare",
        "chapter V (F00-F99)", "birth_date: \"13-15\"",
        "municipality: \"Malmo\"", "health.clinician_notes: withheld (drop)",
        "more would be available under an override",
        // The envelope beside the record: the birth date as an age band,
        // the concerns kept, the sender's free text withheld.
        "envelope (referral) at LEVEL_CATEGORY",
        "referral.subject.birth_date: generalised (birth_date_to_age_band)",
        "referral.concerns: kept (keep)",
        "referral.requested_action: withheld (drop)"}) {
    EXPECT_TRUE(absl::StrContains(social.output, want)) << want << " in:\n"
                                                        << social.output;
  }
  EXPECT_FALSE(absl::StrContains(social.output, "Amiralsgatan"));

  ToolRun police = Tool(
      absl::StrCat("explain --policy=", kDefault,
                   " --from=health --to=police --purpose=child_welfare"
                   " --basis_file=",
                   kExamples, "/override-basis.textproto --record=", kExamples,
                   "/health-record.textproto"));
  EXPECT_EQ(police.exit_code, 0) << police.output;
  EXPECT_TRUE(absl::StrContains(police.output, "ALLOWED at LEVEL_CATEGORY"))
      << police.output;

  ToolRun denied =
      Tool(absl::StrCat("explain --policy=", kDefault,
                        " --from=police --to=health"
                        " --purpose=child_welfare --basis=consent"));
  EXPECT_EQ(denied.exit_code, 1) << denied.output;
  EXPECT_TRUE(absl::StrContains(denied.output, "DENIED")) << denied.output;
  EXPECT_TRUE(absl::StrContains(denied.output, "no agreement covers"));

  ToolRun envelope = Tool(absl::StrCat(
      "explain --policy=", kDefault,
      " --from=health --to=police --purpose=child_welfare --basis=consent"
      " --message=summary_request"));
  EXPECT_EQ(envelope.exit_code, 0) << envelope.output;
  EXPECT_TRUE(absl::StrContains(
      envelope.output, "summary_request.subject.birth_date: withheld (drop)"))
      << envelope.output;
  EXPECT_EQ(Tool(absl::StrCat("explain --policy=", kDefault,
                              " --from=health --to=police --purpose=x"
                              " --basis=consent --message=case"))
                .exit_code,
            2);

  ToolRun usage = Tool("explain --policy=" + kDefault + " --from=health");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_TRUE(absl::StrContains(usage.output, "explain needs --to"));
  const std::string bad_basis = ::testing::TempDir() + "/bad-basis.textproto";
  std::ofstream(bad_basis) << "override {\n  category: RISK\n}\n";
  ToolRun unreadable = Tool(absl::StrCat(
      "explain --policy=", kDefault,
      " --from=health --to=police --purpose=child_welfare --basis_file=",
      bad_basis));
  EXPECT_EQ(unreadable.exit_code, 2) << unreadable.output;
  EXPECT_TRUE(absl::StrContains(unreadable.output, bad_basis + ":2:"))
      << unreadable.output;
  EXPECT_EQ(Tool("frobnicate").exit_code, 2);
  ToolRun help = Tool("help explain");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.output, "--basis_file"));
}

}  // namespace
}  // namespace liaison::policy
