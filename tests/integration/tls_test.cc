// The broker's TLS as outside tools see it: testssl.sh scans the real
// broker and must find only TLS 1.2 and 1.3, each with AEAD suites only,
// and openssl s_client without a client certificate gets no session at
// either version. broker_identity_test.cc probes the same limits with its
// own OpenSSL client; this is the independent view.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "liaison/v1/identity.grpc.pb.h"
#include "tests/integration/harness.h"

namespace liaison::testing {
namespace {

constexpr char kRegistry[] = R"pb(
  agencies {
    id: "st-olavs"
    sector: "health"
    jurisdiction: "se"
    area: "malmo"
    display_name: "St Olav's Hospital"
  }
)pb";

// testssl.sh's own fatal exit codes start here (ERR_CHILD .. ERR_BASH);
// below it, the exit code only counts findings.
constexpr int kTestsslFatalExit = 242;
// `timeout` exits with this when it had to kill the command.
constexpr int kTimedOut = 124;
constexpr int kTestsslSeconds = 240;

// The first executable on PATH called one of `names`, or "".
std::string FindOnPath(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  for (const std::string& name : names) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      const std::string candidate = absl::StrCat(dir, "/", name);
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

// Runs `argv` with standard input at end of file, so that neither tool
// waits on a terminal, and kills it after `seconds` (exit code kTimedOut).
CommandResult RunBounded(const std::vector<std::string>& argv, int seconds) {
  std::vector<std::string> args = {
      "/bin/sh", "-c",      "exec \"$@\" </dev/null",
      "sh",      "timeout", std::to_string(seconds)};
  args.insert(args.end(), argv.begin(), argv.end());
  return RunCommand(args);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

grpc::Status WhoAmI(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::WhoAmIResponse response;
  return v1::Identity::NewStub(channel)->WhoAmI(&ctx, v1::WhoAmIRequest(),
                                                &response);
}

// One entry of testssl.sh's flat JSON output (--jsonfile): "id", "ip",
// "port", "severity", "finding" and sometimes "cve", "cwe" or "hint".
using Entry = std::map<std::string, std::string>;

// A scanner for that shape only: an array of objects whose values are
// strings (or bare numbers and literals, kept as their text). Anything
// else is an error, so a truncated or garbled file cannot pass for a scan.
class FlatJson {
 public:
  // Parses `text` into `entries`; on failure returns false and error()
  // says where.
  bool Parse(absl::string_view text, std::vector<Entry>* entries) {
    text_ = text;
    at_ = 0;
    if (!Consume('[')) return Fail("expected '['");
    if (Consume(']')) return AtEnd();
    do {
      if (!Consume('{')) return Fail("expected '{'");
      Entry entry;
      if (!Consume('}')) {
        do {
          std::string key, value;
          if (!String(&key)) return Fail("expected a string key");
          if (!Consume(':')) return Fail("expected ':'");
          if (!Value(&value)) return Fail("expected a string value");
          entry[key] = value;
        } while (Consume(','));
        if (!Consume('}')) return Fail("expected ',' or '}'");
      }
      entries->push_back(std::move(entry));
    } while (Consume(','));
    if (!Consume(']')) return Fail("expected ',' or ']'");
    return AtEnd();
  }

  const std::string& error() const { return error_; }

 private:
  void SkipSpace() {
    while (at_ < text_.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(text_[at_]))) {
      ++at_;
    }
  }

  bool Consume(char c) {
    SkipSpace();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  bool AtEnd() {
    SkipSpace();
    return at_ == text_.size() || Fail("text after the array");
  }

  bool Fail(const std::string& what) {
    error_ = absl::StrCat(what, " at offset ", at_, " of ", text_.size());
    return false;
  }

  bool Value(std::string* out) {
    SkipSpace();
    if (at_ < text_.size() && text_[at_] == '"') return String(out);
    const size_t start = at_;
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
          c != '+' && c != '.') {
        break;
      }
      ++at_;
    }
    *out = std::string(text_.substr(start, at_ - start));
    return at_ > start;
  }

  bool String(std::string* out) {
    SkipSpace();
    if (at_ >= text_.size() || text_[at_] != '"') return false;
    ++at_;
    while (at_ < text_.size()) {
      const char c = text_[at_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (at_ >= text_.size()) return false;
      const char escaped = text_[at_++];
      switch (escaped) {
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          if (text_.size() - at_ < 4) return false;
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const unsigned char h = static_cast<unsigned char>(text_[at_++]);
            if (!absl::ascii_isxdigit(h)) return false;
            code = code * 16 + static_cast<unsigned>(
                                   absl::ascii_isdigit(h)
                                       ? h - '0'
                                       : absl::ascii_tolower(h) - 'a' + 10);
          }
          // Findings are ASCII; anything else only needs to be readable.
          out->push_back(code < 0x80 ? static_cast<char>(code) : '?');
          break;
        }
        default:  // \" \\ \/
          out->push_back(escaped);
      }
    }
    return false;
  }

  absl::string_view text_;
  size_t at_ = 0;
  std::string error_;
};

std::string Get(const Entry& entry, const std::string& key) {
  auto it = entry.find(key);
  return it == entry.end() ? "" : it->second;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deployment_.WriteRegistry(kRegistry);
    agency_ = deployment_.Issue({"agency", "--sector=health", "--id=st-olavs"});
    broker_ = std::make_unique<BrokerProcess>(deployment_);
    ASSERT_GT(broker_->port(), 0) << broker_->Output();
  }

  Deployment deployment_;
  Credentials agency_;
  std::unique_ptr<BrokerProcess> broker_;
};

// testssl.sh tries every protocol version and, per version, every cipher
// suite it knows (over its own sockets as well as OpenSSL, so suites the
// local OpenSSL lacks are tried too). It must find SSLv2 to TLS 1.1 not
// offered, TLS 1.2 and 1.3 offered, and on them only AEAD suites.
TEST_F(TlsTest, TestsslFindsOnlyTls12And13WithAeadSuites) {
  const std::string testssl = FindOnPath({"testssl", "testssl.sh"});
  ASSERT_FALSE(testssl.empty())
      << "testssl.sh is not on PATH: install the Debian package testssl.sh "
         "(tests/run.sh does)";
  const std::string dir = MakeTempDir("testssl");
  const std::string json = dir + "/testssl.json";
  // Protocols (-p) and ciphers per protocol (-E) only; no banner, colour or
  // prompts, and no DNS: it talks to 127.0.0.1 and nothing else (it fetches
  // CRLs or OCSP only with --phone-out).
  std::vector<std::string> argv = {testssl,
                                   "--quiet",
                                   "--color=0",
                                   "--warnings=off",
                                   "--nodns=none",
                                   "--protocols",
                                   "--cipher-per-proto",
                                   "--jsonfile=" + json};
  // testssl.sh 3.2 and later present a client certificate with --mtls (one
  // file holding the certificate and its unencrypted key). 3.0, Debian 12's,
  // has no such option, and needs none here: its protocol and cipher probes
  // read the ServerHello, which the broker sends before it asks for the
  // client's certificate.
  CommandResult help = RunBounded({testssl, "--help"}, 30);
  const bool mtls = absl::StrContains(help.out + help.err, "--mtls");
  if (mtls) {
    const std::string pem = dir + "/agency.pem";
    std::ofstream out(pem);
    out << ReadFile(agency_.cert) << ReadFile(agency_.key);
    argv.insert(argv.end(), {"--mtls", pem});
  }
  argv.push_back(broker_->address());

  CommandResult run = RunBounded(argv, kTestsslSeconds);
  const std::string context =
      absl::StrCat("\ntestssl.sh ", mtls ? "with" : "without",
                   " a client certificate, exit code ", run.exit_code, ":\n",
                   run.out, run.err);
  ASSERT_NE(run.exit_code, kTimedOut)
      << "testssl.sh did not finish in " << kTestsslSeconds << " s" << context;
  ASSERT_LT(run.exit_code, kTestsslFatalExit)
      << "testssl.sh stopped on an error" << context;

  std::vector<Entry> entries;
  FlatJson parser;
  ASSERT_TRUE(parser.Parse(ReadFile(json), &entries))
      << json << ": " << parser.error() << context;
  std::map<std::string, std::string> findings;              // id -> finding
  std::vector<std::pair<std::string, std::string>> suites;  // id, finding
  for (const Entry& entry : entries) {
    const std::string id = Get(entry, "id");
    const std::string finding = Get(entry, "finding");
    EXPECT_NE(Get(entry, "severity"), "FATAL") << id << ": " << finding;
    EXPECT_NE(id, "scanProblem") << finding;
    findings.emplace(id, finding);
    if (absl::StartsWith(id, "cipher-")) suites.emplace_back(id, finding);
  }

  // Protocol ids as testssl.sh names them, and whether each must be
  // offered. Its findings are "offered", "offered with final", "not
  // offered", "offered (deprecated)" and the like.
  const std::pair<const char*, bool> protocols[] = {
      {"SSLv2", false},  {"SSLv3", false}, {"TLS1", false},
      {"TLS1_1", false}, {"TLS1_2", true}, {"TLS1_3", true}};
  bool any_protocol = false;
  for (const auto& protocol : protocols) {
    any_protocol = any_protocol || findings.count(protocol.first) > 0;
  }
  ASSERT_TRUE(any_protocol)
      << "testssl.sh's JSON has no protocol results: the scan did not run"
      << context;
  for (const auto& [id, offered] : protocols) {
    auto it = findings.find(id);
    if (it == findings.end()) {
      ADD_FAILURE() << "testssl.sh reported nothing on " << id << context;
      continue;
    }
    if (offered) {
      EXPECT_TRUE(absl::StartsWith(it->second, "offered"))
          << id << ": " << it->second;
    } else {
      EXPECT_TRUE(absl::StartsWith(it->second, "not offered"))
          << id << ": " << it->second;
    }
  }

  // Each suite found is one entry "cipher-<protocol>_x<hex code>", whose
  // finding has the OpenSSL and the IANA name, e.g. "TLS 1.2 xc02c
  // ECDHE-ECDSA-AES256-GCM-SHA384 ECDH 256 AESGCM 256
  // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".
  std::map<std::string, int> per_protocol;
  for (const auto& [id, finding] : suites) {
    absl::string_view rest = id;
    absl::ConsumePrefix(&rest, "cipher-");
    const std::string protocol(rest.substr(0, rest.rfind("_x")));
    ++per_protocol[protocol];
    EXPECT_TRUE(protocol == "tls1_2" || protocol == "tls1_3")
        << "a suite offered on " << protocol << ": " << finding;
    const std::string name = absl::AsciiStrToUpper(finding);
    EXPECT_TRUE(absl::StrContains(name, "GCM") ||
                absl::StrContains(name, "POLY1305") ||
                absl::StrContains(name, "CCM"))
        << "not an AEAD suite: " << finding;
    // CBC, RC4, 3DES (DES-CBC3 in OpenSSL's names), NULL, export or
    // anonymous suites.
    for (const char* weak : {"CBC", "RC4", "3DES", "DES-CBC3", "NULL", "EXP",
                             "ANON", "ADH-", "AECDH-"}) {
      EXPECT_FALSE(absl::StrContains(name, weak))
          << "a " << weak << " suite: " << finding;
    }
  }
  // So that a scan which found no suites at all cannot pass.
  EXPECT_GT(per_protocol["tls1_2"], 0) << "no TLS 1.2 suite found" << context;
  EXPECT_GT(per_protocol["tls1_3"], 0) << "no TLS 1.3 suite found" << context;
}

// A client that presents no certificate gets no session at TLS 1.3 or 1.2:
// openssl s_client gets as far as the broker's certificate request, and the
// broker then closes the connection. Over gRPC, the call fails.
TEST_F(TlsTest, NoSessionWithoutClientCertificate) {
  const std::string openssl = FindOnPath({"openssl"});
  ASSERT_FALSE(openssl.empty()) << "openssl is not on PATH";
  struct Case {
    const char* flag;
    const char* version;
  };
  for (const Case& c :
       {Case{"-tls1_3", "TLSv1.3"}, Case{"-tls1_2", "TLSv1.2"}}) {
    const size_t mark = broker_->LineCount();
    // Under TLS 1.3 the client's side of the handshake is complete before
    // the broker reads the client's (empty) certificate, so the refusal
    // shows only when the client reads again; without -ign_eof, s_client
    // may see standard input end and exit 0 first. With it, s_client reads
    // until the broker closes the connection.
    CommandResult r =
        RunBounded({openssl, "s_client", "-connect", broker_->address(), c.flag,
                    "-servername", "localhost", "-CAfile",
                    deployment_.ca_cert(), "-ign_eof"},
                   30);
    const std::string output = absl::StrCat(c.flag, ":\n", r.out, r.err);
    EXPECT_EQ(r.exit_code, 1)
        << "expected the broker to end the connection (0: a session that "
           "ended normally; 124: the broker kept the connection open)\n"
        << output;
    // The handshake reached the broker's certificate request, at the
    // version asked for, and the broker's certificate verified: what ends
    // it is the missing client certificate alone.
    EXPECT_TRUE(
        absl::StrContains(r.out, "Acceptable client certificate CA names"))
        << output;
    EXPECT_TRUE(
        absl::StrContains(r.out, absl::StrCat("New, ", c.version, ", Cipher")))
        << output;
    EXPECT_TRUE(absl::StrContains(r.out, "Verify return code: 0 (ok)"))
        << output;
    EXPECT_TRUE(broker_->WaitForLine("peer did not return a certificate", mark))
        << c.flag << ":\n"
        << broker_->Output();
  }

  grpc::Status no_certificate =
      WhoAmI(ChannelFor(*broker_, deployment_.ca_cert(), Credentials{}));
  EXPECT_EQ(no_certificate.error_code(), grpc::StatusCode::UNAVAILABLE)
      << no_certificate.error_message();
  // The same broker answers the agency's certificate.
  grpc::Status with_certificate =
      WhoAmI(ChannelFor(*broker_, deployment_.ca_cert(), agency_));
  EXPECT_TRUE(with_certificate.ok()) << with_certificate.error_message();
}

}  // namespace
}  // namespace liaison::testing
