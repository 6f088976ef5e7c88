#include "tests/integration/harness.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "liaison/v1/audit.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"

namespace liaison::testing {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string RecordConsentFromSubject(
    const std::shared_ptr<grpc::Channel>& channel,
    const std::string& subject_identifier,
    const std::vector<std::string>& purposes) {
  v1::RecordConsentRequest request;
  v1::Consent* c = request.mutable_consent();
  c->set_grantor(v1::GRANTOR_SUBJECT);
  c->mutable_subject()->set_identifier(subject_identifier);
  for (const char* sector : {"health", "social_care", "education", "police"}) {
    c->add_disclosing()->set_sector(sector);
    c->add_recipients()->set_sector(sector);
  }
  for (const std::string& p : purposes) c->add_purposes(p);
  c->set_max_level(v1::LEVEL_FULL);
  c->mutable_evidence()->set_form_reference("TEST-FORM-1");
  c->mutable_evidence()->set_form_version("v1");
  c->mutable_evidence()->set_language("sv");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::Consent recorded;
  grpc::Status s =
      v1::Exchange::NewStub(channel)->RecordConsent(&ctx, request, &recorded);
  if (!s.ok()) {
    ADD_FAILURE() << "RecordConsent for " << subject_identifier
                  << " refused: " << s.error_message();
  }
  return recorded.consent_id();
}

std::string BinaryPath(const std::string& name) {
  return std::string(LIAISON_BIN_DIR) + "/" + name;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string dir = ::testing::TempDir() + "/" + prefix + "XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
  }
  return dir;
}

namespace {

// Starts `args` with its output going to the two files.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = freopen(out_path.c_str(), "w", stdout);
    FILE* err = freopen(err_path.c_str(), "w", stderr);
    if (out == nullptr || err == nullptr) _exit(126);
    std::vector<char*> argv = Argv(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& args) {
  // Output goes to files so neither pipe can fill and stall the child.
  const std::string dir = MakeTempDir("cmd");
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  const pid_t pid = Spawn(args, out_path, err_path);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result;
  result.exit_code = DecodeWaitStatus(status);
  std::ifstream out(out_path), err(err_path);
  result.out.assign(std::istreambuf_iterator<char>(out), {});
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  return result;
}

Deployment::Deployment() {
  root_ = MakeTempDir("deployment");
  ca_dir_ = root_ + "/ca";
  CommandResult init =
      RunCommand({BinaryPath("liaison-certs"), "--dir=" + ca_dir_, "init"});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  Issue({"server", "--id=broker-test", "--dns=localhost", "--ip=127.0.0.1"});
  CommandResult crl =
      RunCommand({BinaryPath("liaison-certs"), "--dir=" + ca_dir_, "crl"});
  EXPECT_EQ(crl.exit_code, 0) << crl.err;
  std::ofstream config(this->config());
  config << "listen: \"127.0.0.1:0\"\n"
         << "tls_cert: \"ca/issued/server-broker-test.crt\"\n"
         << "tls_key: \"ca/issued/server-broker-test.key\"\n"
         << "ca: \"ca/ca.crt\"\n"
         << "crl: \"ca/crl.pem\"\n"
         << "data_dir: \"data\"\n"
         << "registry: \"registry.textproto\"\n"
         << "policy_dir: \"policy\"\n";
  WriteRegistry("");
  std::filesystem::copy(std::string(LIAISON_SOURCE_DIR) + "/policy/default",
                        policy_dir());
}

void Deployment::WritePolicyFile(const std::string& name,
                                 const std::string& text) {
  std::ofstream(policy_dir() + "/" + name) << text;
}

Credentials Deployment::Issue(const std::vector<std::string>& kind_and_flags) {
  std::vector<std::string> args = {"issue"};
  args.insert(args.end(), kind_and_flags.begin(), kind_and_flags.end());
  return IssuedBy(args);
}

Credentials Deployment::Renew(const std::string& serial_or_file) {
  return IssuedBy({"renew", serial_or_file});
}

Credentials Deployment::IssuedBy(const std::vector<std::string>& command) {
  std::vector<std::string> args = {BinaryPath("liaison-certs"),
                                   "--dir=" + ca_dir_};
  args.insert(args.end(), command.begin(), command.end());
  CommandResult r = RunCommand(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Credentials creds;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::ConsumePrefix(&line, "serial: "))
      creds.serial = std::string(line);
    if (absl::ConsumePrefix(&line, "certificate: "))
      creds.cert = std::string(line);
    if (absl::ConsumePrefix(&line, "key: ")) creds.key = std::string(line);
  }
  EXPECT_FALSE(creds.cert.empty()) << r.out;
  return creds;
}

void Deployment::Revoke(const std::string& serial) {
  CommandResult r = RunCommand(
      {BinaryPath("liaison-certs"), "--dir=" + ca_dir_, "revoke", serial});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({BinaryPath("liaison-certs"), "--dir=" + ca_dir_, "crl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

void Deployment::AppendConfig(const std::string& text) {
  std::ofstream(config(), std::ios::app) << text << "\n";
}

void Deployment::WriteRegistry(const std::string& text) {
  std::ofstream(root_ + "/registry.textproto") << text;
}

BrokerProcess::BrokerProcess(const Deployment& deployment,
                             const std::vector<std::string>& extra_flags) {
  int fds[2];
  if (pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  std::vector<std::string> args = {BinaryPath("liaison-broker"),
                                   "--config=" + deployment.config()};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv = Argv(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { ReadOutput(fd); });
  if (!WaitForLine("listening on ", 0)) {
    exit_code_ = WaitForExit();
    return;
  }
  std::string out = Output();
  const size_t at = out.find("listening on ");
  const std::string address = out.substr(at + 13, out.find('\n', at) - at - 13);
  port_ = std::stoi(address.substr(address.rfind(':') + 1));
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0 && exit_code_ < 0) {
    kill(pid_, SIGKILL);
    WaitForExit();
  }
  if (reader_.joinable()) reader_.join();
}

std::string BrokerProcess::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void BrokerProcess::ReadOutput(int fd) {
  std::string pending;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    pending.append(buf, n);
    size_t nl;
    absl::MutexLock lock(&mu_);
    while ((nl = pending.find('\n')) != std::string::npos) {
      lines_.push_back(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  close(fd);
  absl::MutexLock lock(&mu_);
  if (!pending.empty()) lines_.push_back(pending);
  eof_ = true;
}

bool BrokerProcess::WaitForLine(const std::string& text, size_t since,
                                absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto found = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    for (size_t i = since; i < lines_.size(); ++i) {
      if (absl::StrContains(lines_[i], text)) return true;
    }
    return eof_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  for (size_t i = since; i < lines_.size(); ++i) {
    if (absl::StrContains(lines_[i], text)) return true;
  }
  return false;
}

size_t BrokerProcess::LineCount() {
  absl::MutexLock lock(&mu_);
  return lines_.size();
}

std::string BrokerProcess::Output() {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const std::string& l : lines_) out += l + "\n";
  return out;
}

void BrokerProcess::Signal(int sig) {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, sig);
}

int BrokerProcess::Stop() {
  Signal(SIGTERM);
  return WaitForExit();
}

int BrokerProcess::WaitForExit() {
  if (exit_code_ >= 0 || pid_ <= 0) return exit_code_;
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = DecodeWaitStatus(status);
  // The process has exited, but its last lines may still be in the pipe:
  // let the reader drain it so Output() holds everything it printed.
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&eof_), absl::Seconds(10));
  return exit_code_;
}

std::shared_ptr<grpc::Channel> ChannelFor(const BrokerProcess& broker,
                                          const std::string& ca_cert,
                                          const Credentials& creds) {
  auto read = [](const std::string& path) {
    if (path.empty()) return std::string();
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = read(ca_cert);
  tls.pem_cert_chain = read(creds.cert);
  tls.pem_private_key = read(creds.key);
  // A fresh subchannel per test channel, so one test's connection is never
  // reused for another's credentials.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(broker.address(), grpc::SslCredentials(tls),
                                   args);
}

CommandResult RunLiaison(const BrokerProcess& broker,
                         const std::string& ca_cert, const Credentials& creds,
                         const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      BinaryPath("liaison"), "--broker=" + broker.address(),
      "--cert=" + creds.cert, "--key=" + creds.key, "--ca=" + ca_cert};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

BackgroundLiaison::BackgroundLiaison(const BrokerProcess& broker,
                                     const std::string& ca_cert,
                                     const Credentials& creds,
                                     const std::vector<std::string>& args) {
  const std::string dir = MakeTempDir("liaison");
  out_path_ = dir + "/out";
  err_path_ = dir + "/err";
  std::vector<std::string> command = {
      BinaryPath("liaison"), "--broker=" + broker.address(),
      "--cert=" + creds.cert, "--key=" + creds.key, "--ca=" + ca_cert};
  command.insert(command.end(), args.begin(), args.end());
  pid_ = Spawn(command, out_path_, err_path_);
}

BackgroundLiaison::~BackgroundLiaison() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string BackgroundLiaison::Output() const {
  std::ifstream out(out_path_);
  return std::string(std::istreambuf_iterator<char>(out), {});
}

CommandResult BackgroundLiaison::Interrupt() {
  CommandResult result;
  if (pid_ <= 0) return result;
  kill(pid_, SIGINT);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  result.exit_code = DecodeWaitStatus(status);
  std::ifstream out(out_path_), err(err_path_);
  result.out.assign(std::istreambuf_iterator<char>(out), {});
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  return result;
}

CommandResult RunLiaison(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BinaryPath("liaison")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

bool PollUntil(const std::function<bool()>& done, absl::Duration timeout,
               absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
  return true;
}

std::vector<v1::InboxMessage> ReadInbox(
    const std::shared_ptr<grpc::Channel>& channel, size_t n,
    const InboxRead& how) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + how.wait));
  v1::ReceiveRequest req;
  req.set_lease_seconds(how.lease_seconds);
  auto stub = v1::Exchange::NewStub(channel);
  auto reader = stub->Receive(&ctx, req);
  std::vector<v1::InboxMessage> out;
  v1::InboxMessage m;
  while (out.size() < n && reader->Read(&m)) {
    if (how.keep && !how.keep(m)) continue;
    out.push_back(m);
    if (how.acknowledge) {
      grpc::ClientContext ack_ctx;
      if (!how.professional_id.empty()) {
        ack_ctx.AddMetadata("liaison-professional-id", how.professional_id);
      }
      v1::AckRequest ack;
      ack.set_message_id(m.message_id());
      v1::AckResponse done;
      EXPECT_TRUE(stub->Ack(&ack_ctx, ack, &done).ok());
    }
  }
  // The stream never ends by itself: cancel it and drain what was in
  // flight so that Finish does not wait.
  ctx.TryCancel();
  while (reader->Read(&m)) {
  }
  reader->Finish();
  return out;
}

uint64_t LogTreeSize(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  v1::GetTreeHeadResponse resp;
  const grpc::Status s = v1::Audit::NewStub(channel)->GetTreeHead(
      &ctx, v1::GetTreeHeadRequest(), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.tree_head().tree_size();
}

v1::SendReferralRequest ExampleHealthReferral(const std::string& key,
                                              const std::string& to,
                                              const std::string& consent_id) {
  v1::SendReferralRequest r =
      HealthReferral(to, kExampleSubject, "2011-04-12", consent_id,
                     "Says things are bad at home.");
  r.set_idempotency_key(key);
  return r;
}

}  // namespace liaison::testing
