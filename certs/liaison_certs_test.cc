// liaison-certs run as a child process: its help, its usage errors, and
// each command end to end against a CA folder.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "broker/basics/x509.h"
#include "certs/ca.h"
#include "certs/ca_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace liaison::certs {
namespace {

using ::testing::HasSubstr;

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult RunCli(const std::vector<std::string>& args,
                 const std::string& ca_dir_env = "") {
  const std::string tmp = MakeTempDir();
  const std::string out_path = tmp + "/stdout";
  const std::string err_path = tmp + "/stderr";
  std::vector<std::string> argv_strings = {LIAISON_CERTS_BIN};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (ca_dir_env.empty()) {
      unsetenv("LIAISON_CA_DIR");
    } else {
      setenv("LIAISON_CA_DIR", ca_dir_env.c_str(), 1);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = Contents(out_path);
  result.err = Contents(err_path);
  return result;
}

// The value of the "key: value" line of `out`.
std::string Field(const std::string& out, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::ConsumePrefix(&line, absl::StrCat(key, ": "))) {
      return std::string(line);
    }
  }
  return "";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    dir_ = root_ + "/ca";
    CliResult init = RunCli({"--dir=" + dir_, "init"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  CliResult Certs(std::vector<std::string> args) {
    args.insert(args.begin(), "--dir=" + dir_);
    return RunCli(args);
  }

  std::string root_;
  std::string dir_;
};

TEST(CliHelpTest, EveryCommandHasHelp) {
  for (const std::string command :
       {"init", "issue", "renew", "revoke", "crl", "list", "inspect", "help"}) {
    SCOPED_TRACE(command);
    CliResult flag = RunCli({command, "--help"});
    EXPECT_EQ(flag.exit_code, 0) << flag.err;
    EXPECT_THAT(flag.out, HasSubstr("Usage:"));
    EXPECT_THAT(flag.out, HasSubstr("liaison-certs "));
    EXPECT_THAT(flag.out, HasSubstr(command));
    EXPECT_EQ(flag.err, "");
    CliResult short_flag = RunCli({command, "-h"});
    EXPECT_EQ(short_flag.exit_code, 0);
    EXPECT_EQ(short_flag.out, flag.out);
    if (command != "help") {
      CliResult help = RunCli({"help", command});
      EXPECT_EQ(help.exit_code, 0);
      EXPECT_EQ(help.out, flag.out);
    }
  }
  CliResult issue = RunCli({"issue", "agency", "--sector=health", "--help"});
  EXPECT_EQ(issue.exit_code, 0);
  EXPECT_THAT(issue.out, HasSubstr("--not_before"));

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"help"}, {"-h"}}) {
    CliResult general = RunCli(args);
    EXPECT_EQ(general.exit_code, 0);
    EXPECT_THAT(general.out, HasSubstr("Commands:"));
    EXPECT_THAT(general.out, HasSubstr("inspect"));
  }
}

TEST(CliHelpTest, CommandLineMistakesExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{}, "missing COMMAND"},
      {{"frobnicate"}, "unknown command \"frobnicate\""},
      {{"help", "frobnicate"}, "unknown command"},
      {{"issue"}, "needs a kind"},
      {{"issue", "robot", "--id=x"}, "unknown certificate kind"},
      {{"issue", "agency", "--id=x"}, "--sector"},
      {{"issue", "auditor"}, "--id"},
      {{"issue", "admin", "--id=x", "--sector=health"}, "--sector applies"},
      {{"issue", "agency", "--sector=a", "--id=x", "--dns=h"}, "--dns"},
      {{"revoke"}, "SERIAL"},
      {{"inspect"}, "CERT_FILE"},
      {{"init", "--sector=health"}, "--sector does not apply to init"},
      {{"list", "--bogus"}, "unknown flag --bogus"},
      {{"crl", "extra"}, "unexpected argument"},
      {{"crl", "--days=soon"}, "--days=soon is not a whole number"},
      {{"crl", "--days=0"}, "--days must be between 1"},
      {{"list", "--expiring=soon"}, "--expiring=soon is not a whole number"},
      {{"renew"}, "SERIAL or CERT_FILE"},
      {{"renew", "AB", "CD"}, "unexpected argument"},
      {{"renew", "AB", "--reason=superseded"}, "--reason does not apply"},
      {{"issue", "admin", "--id=x", "--force=maybe"}, "true or false"},
      {{"revoke", "AB", "--reason=lost"}, "unknown revocation reason"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    CliResult r = RunCli(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("liaison-certs: "));
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_THAT(r.err, HasSubstr("liaison-certs help"));
  }
}

TEST_F(CliTest, IssueListRevokeCrlInspect) {
  CliResult issued =
      Certs({"issue", "agency", "--sector=health", "--id=st-olavs"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  const std::string serial = Field(issued.out, "serial");
  const std::string cert = Field(issued.out, "certificate");
  EXPECT_EQ(Field(issued.out, "principal"), "liaison://agency/health/st-olavs");
  EXPECT_EQ(cert, dir_ + "/issued/agency-st-olavs.crt");
  EXPECT_EQ(Field(issued.out, "key"), dir_ + "/issued/agency-st-olavs.key");
  EXPECT_FALSE(Field(issued.out, "not_after").empty());
  EXPECT_EQ(FileMode(Field(issued.out, "key")), 0600);

  CliResult again =
      Certs({"issue", "agency", "--sector=health", "--id=st-olavs"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already exists"));

  CliResult inspect = RunCli({"inspect", cert});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(Field(inspect.out, "serial"), serial);
  EXPECT_EQ(Field(inspect.out, "key"), "EC P-256");
  EXPECT_THAT(Field(inspect.out, "principal"),
              HasSubstr("liaison://agency/health/st-olavs"));

  CliResult list = Certs({"list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("SERIAL"));
  EXPECT_THAT(list.out, HasSubstr(serial));
  EXPECT_THAT(list.out, HasSubstr("VALID"));

  CliResult revoke = Certs({"revoke", cert, "--reason=key_compromise"});
  EXPECT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_THAT(revoke.out, HasSubstr(serial));
  EXPECT_THAT(revoke.out, HasSubstr("crl"));
  CliResult twice = Certs({"revoke", serial});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.err, HasSubstr("already revoked"));
  CliResult unknown = Certs({"revoke", "ABCDEF"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("never issued"));

  CliResult crl = Certs({"crl"});
  EXPECT_EQ(crl.exit_code, 0) << crl.err;
  EXPECT_EQ(Field(crl.out, "crl"), dir_ + "/crl.pem");
  EXPECT_EQ(Field(crl.out, "revoked"), "1");
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(dir_);
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<x509::RevocationList> revoked =
      x509::ReadCrlFile(dir_ + "/crl.pem", ca->ca_certificate());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->revoked.count(serial), 1u);

  list = Certs({"list"});
  EXPECT_THAT(list.out, HasSubstr("REVOKED"));
}

TEST_F(CliTest, BadSectorOrIdIsRefusedWithTheValidatorsMessage) {
  CliResult r = Certs({"issue", "agency", "--sector=Health", "--id=st-olavs"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("liaison-certs: sector \"Health\""));
  r = Certs({"issue", "auditor", "--id=-dpo"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("liaison-certs: id \"-dpo\""));
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(dir_);
  ASSERT_TRUE(ca.ok());
  EXPECT_TRUE(ca->List().empty());
}

TEST_F(CliTest, ServerNeedsAnAddress) {
  CliResult r = Certs({"issue", "server", "--id=broker-1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--dns"));
  r = Certs({"issue", "server", "--id=broker-1", "--dns=localhost",
             "--ip=127.0.0.1,::1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Field(r.out, "certificate"), dir_ + "/issued/server-broker-1.crt");
  EXPECT_EQ(Field(r.out, "principal"), "liaison://broker/broker-1");
  CliResult inspect = RunCli({"inspect", Field(r.out, "certificate")});
  EXPECT_EQ(Field(inspect.out, "dns_sans"), "localhost");
  EXPECT_EQ(Field(inspect.out, "ip_sans"), "127.0.0.1, 0:0:0:0:0:0:0:1");
}

TEST_F(CliTest, BackdatedExpiredCertificateAndExpiringList) {
  CliResult expired =
      Certs({"issue", "agency", "--sector=health", "--id=st-olavs",
             "--not_before=2020-01-01T00:00:00Z", "--days=1",
             "--out=" + root_ + "/expired"});
  ASSERT_EQ(expired.exit_code, 0) << expired.err;
  EXPECT_EQ(Field(expired.out, "not_after"), "2020-01-02T00:00:00Z");
  EXPECT_EQ(Field(expired.out, "certificate"),
            root_ + "/expired/agency-st-olavs.crt");
  CliResult soon = Certs({"issue", "auditor", "--id=dpo", "--days=10"});
  ASSERT_EQ(soon.exit_code, 0) << soon.err;
  CliResult later = Certs({"issue", "admin", "--id=ops"});
  ASSERT_EQ(later.exit_code, 0) << later.err;

  CliResult list = Certs({"list", "--expiring=30"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("liaison://auditor/dpo"));
  EXPECT_THAT(list.out, testing::Not(HasSubstr("liaison://admin/ops")));
  EXPECT_THAT(list.out, testing::Not(HasSubstr("st-olavs")));
  list = Certs({"list", "--expiring=1"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, testing::Not(HasSubstr("liaison://")));
  list = Certs({"list"});
  EXPECT_THAT(list.out, HasSubstr("EXPIRED"));

  CliResult bad_time =
      Certs({"issue", "admin", "--id=x", "--not_before=yesterday"});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_THAT(bad_time.err, HasSubstr("RFC 3339"));
}

TEST_F(CliTest, BareExpiringMeansThirtyDays) {
  ASSERT_EQ(Certs({"issue", "auditor", "--id=dpo", "--days=20"}).exit_code, 0);
  ASSERT_EQ(Certs({"issue", "admin", "--id=ops", "--days=40"}).exit_code, 0);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"list", "--expiring"}, {"list", "--expiring", "30"}}) {
    CliResult list = Certs(args);
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_THAT(list.out, HasSubstr("liaison://auditor/dpo"));
    EXPECT_THAT(list.out, testing::Not(HasSubstr("liaison://admin/ops")));
  }
}

TEST_F(CliTest, RenewIssuesASuccessorAndLeavesTheOldOneValid) {
  CliResult old = Certs({"issue", "server", "--id=b1", "--dns=broker.example",
                         "--ip=10.0.0.7", "--days=20"});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  const std::string old_serial = Field(old.out, "serial");
  CliResult renewed = Certs({"renew", Field(old.out, "certificate")});
  ASSERT_EQ(renewed.exit_code, 0) << renewed.err;
  EXPECT_EQ(Field(renewed.out, "renewed").substr(0, old_serial.size()),
            old_serial);
  const std::string serial = Field(renewed.out, "serial");
  EXPECT_NE(serial, old_serial);
  EXPECT_EQ(Field(renewed.out, "principal"), "liaison://broker/b1");
  EXPECT_THAT(renewed.out, HasSubstr("revoke " + old_serial));
  // Same names, fresh key, as long as the old one, and both are valid.
  CliResult shown = Certs({"inspect", Field(renewed.out, "certificate")});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(Field(shown.out, "dns_sans"), "broker.example");
  EXPECT_EQ(Field(shown.out, "ip_sans"), "10.0.0.7");
  EXPECT_NE(Field(renewed.out, "key"), Field(old.out, "key"));
  CliResult list = Certs({"list", "--expiring=21"});
  EXPECT_THAT(list.out, HasSubstr(old_serial));
  EXPECT_THAT(list.out, HasSubstr(serial));
  CliResult longer = Certs({"renew", serial, "--days=90"});
  ASSERT_EQ(longer.exit_code, 0) << longer.err;
  EXPECT_EQ(
      Certs({"list", "--expiring=30"}).out.find(Field(longer.out, "serial")),
      std::string::npos);

  // Revoked or unknown serials are not renewed, and nothing is issued.
  ASSERT_EQ(Certs({"revoke", old_serial}).exit_code, 0);
  const size_t issued = Certs({"list"}).out.size();
  CliResult revoked = Certs({"renew", old_serial});
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_THAT(revoked.err, HasSubstr("was revoked"));
  CliResult unknown = Certs({"renew", "ABCDEF"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("never issued"));
  EXPECT_EQ(Certs({"list"}).out.size(), issued);
}

TEST_F(CliTest, InspectReportsCertificatesThatNameNoSinglePrincipal) {
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Open(dir_);
  ASSERT_TRUE(ca.ok());
  IssueSpec spec = AgencySpec("health", "x", absl::Now());
  spec.uri_sans = {"liaison://agency/health/a", "liaison://agency/health/b"};
  spec.label = "two";
  absl::StatusOr<IssuedCertificate> issued = ca->Issue(spec, root_);
  ASSERT_TRUE(issued.ok()) << issued.status();
  CliResult r = Certs({"inspect", issued->cert_path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("principal: INVALID"));
  EXPECT_THAT(r.out, HasSubstr("ca: signed by the CA"));
  EXPECT_THAT(r.err, HasSubstr("2 URI SANs"));
}

TEST_F(CliTest, DirectoryComesFromEnvironmentAndMustHoldCa) {
  CliResult r = RunCli({"list"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  CliResult missing = RunCli({"--dir=" + root_ + "/nothing", "list"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err,
              HasSubstr("liaison-certs --dir=" + root_ + "/nothing init"));
  CliResult init = Certs({"init"});
  EXPECT_EQ(init.exit_code, 1);
  EXPECT_THAT(init.err, HasSubstr("already holds a CA"));
}

}  // namespace
}  // namespace liaison::certs
