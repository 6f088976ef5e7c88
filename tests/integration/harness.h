// Test fixtures that run the real binaries: liaison-certs makes a throw-away
// deployment CA and certificates, liaison-broker runs as a child process on
// port 0, and tests talk to it over real mutual TLS.
#ifndef LIAISON_TESTS_INTEGRATION_HARNESS_H_
#define LIAISON_TESTS_INTEGRATION_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison::testing {

// A fresh folder under the test temp dir.
std::string MakeTempDir(const std::string& prefix);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is a path) to completion and captures its output.
CommandResult RunCommand(const std::vector<std::string>& argv);

// A certificate and key pair on disk.
struct Credentials {
  std::string cert;
  std::string key;
  std::string serial;
};

// A deployment CA made with liaison-certs, a server certificate for
// localhost/127.0.0.1, and a broker config pointing at them.
class Deployment {
 public:
  // Runs `liaison-certs init` and issues the broker's server certificate.
  Deployment();

  const std::string& root() const { return root_; }
  const std::string& ca_dir() const { return ca_dir_; }
  std::string ca_cert() const { return ca_dir_ + "/ca.crt"; }
  std::string crl() const { return ca_dir_ + "/crl.pem"; }
  std::string config() const { return root_ + "/broker.textproto"; }
  std::string data_dir() const { return root_ + "/data"; }
  // The broker's policy folder: a copy of policy/default, made at
  // construction, which tests may change.
  std::string policy_dir() const { return root_ + "/policy"; }

  // `liaison-certs issue <kind> ...extra`; fails the test on error.
  Credentials Issue(const std::vector<std::string>& kind_and_flags);
  // `liaison-certs renew <serial_or_file>`; fails the test on error.
  Credentials Renew(const std::string& serial_or_file);
  // `liaison-certs revoke <serial>` then `liaison-certs crl`.
  void Revoke(const std::string& serial);

  // Writes the registry seed (text format) the broker reads at start.
  void WriteRegistry(const std::string& text);
  // Writes (replaces) one file of the broker's policy folder, e.g.
  // "agreements.textproto".
  void WritePolicyFile(const std::string& name, const std::string& text);
  // Appends fields (text format) to the broker config.
  void AppendConfig(const std::string& text);

 private:
  // Runs liaison-certs `command` and reads the credentials it printed.
  Credentials IssuedBy(const std::vector<std::string>& command);

  std::string root_;
  std::string ca_dir_;
};

// liaison-broker running as a child process.
class BrokerProcess {
 public:
  // Starts the broker with the deployment's config and `extra_flags`, and
  // returns once it prints "listening on". On failure, exit_code() and
  // output() say why and port() is 0.
  BrokerProcess(const Deployment& deployment,
                const std::vector<std::string>& extra_flags = {});
  ~BrokerProcess();

  int port() const { return port_; }
  std::string address() const;
  pid_t pid() const { return pid_; }

  // Waits for an output line containing `text` after the `since`-th line.
  // Returns false on timeout or exit.
  bool WaitForLine(const std::string& text, size_t since,
                   absl::Duration timeout = absl::Seconds(30));
  size_t LineCount();
  std::string Output();

  // Sends a signal.
  void Signal(int sig);
  // Sends SIGTERM and waits; returns the exit code.
  int Stop();
  // Waits for exit and for its output to be read to the end; returns the
  // exit code (128+signal when killed).
  int WaitForExit();

 private:
  void ReadOutput(int fd);

  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

// A mutual TLS channel to the broker with the given credentials (either may
// be empty to present no client certificate).
std::shared_ptr<grpc::Channel> ChannelFor(const BrokerProcess& broker,
                                          const std::string& ca_cert,
                                          const Credentials& creds);

// Runs the liaison command line against `broker` as `creds`, with
// `args` after the connection flags.
CommandResult RunLiaison(const BrokerProcess& broker,
                         const std::string& ca_cert, const Credentials& creds,
                         const std::vector<std::string>& args);

// The liaison command line running in the background against `broker` as
// `creds` (for commands that run until interrupted, such as
// `inbox --follow`), its output going to files read as it comes.
class BackgroundLiaison {
 public:
  BackgroundLiaison(const BrokerProcess& broker, const std::string& ca_cert,
                    const Credentials& creds,
                    const std::vector<std::string>& args);
  // Killed if still running.
  ~BackgroundLiaison();
  // Its standard output so far.
  std::string Output() const;
  // Sends SIGINT, waits for it to end, and returns what it wrote and its
  // exit code.
  CommandResult Interrupt();

 private:
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
};

// Runs the liaison command line with `args` alone: no connection flags,
// for help and usage errors that reach no broker.
CommandResult RunLiaison(const std::vector<std::string>& args);

// Calls `done` until it returns true, `interval` apart, for at most
// `timeout`; returns whether it did. For state the broker shows only when
// asked, such as who is connected.
bool PollUntil(const std::function<bool()>& done,
               absl::Duration timeout = absl::Seconds(10),
               absl::Duration interval = absl::Milliseconds(100));

// A call's outcome as a test checks it: the response, or the status the
// broker gave with its code and message.
template <typename T>
absl::StatusOr<T> ToStatusOr(const grpc::Status& s, T value) {
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return value;
}

using Keep = std::function<bool(const v1::InboxMessage&)>;

// How ReadInbox reads.
struct InboxRead {
  // How long to wait for the messages wanted.
  absl::Duration wait = absl::Seconds(10);
  // The lease on each message delivered; 0 asks for the broker's default.
  uint32_t lease_seconds = 0;
  // Which messages count; every one when empty.
  Keep keep;
  // Whether each message kept is acknowledged as it is read (the test
  // fails if an acknowledgement is refused), naming `professional_id` when
  // it is not empty.
  bool acknowledge = false;
  std::string professional_id;
};

// Reads the inbox behind `channel` until `n` messages that `how.keep`
// accepts have arrived or `how.wait` passes, then closes the stream;
// returns those messages.
std::vector<v1::InboxMessage> ReadInbox(
    const std::shared_ptr<grpc::Channel>& channel, size_t n,
    const InboxRead& how);

// Size of the whole disclosure log, read as the auditor `channel`
// authenticates; the test fails if the broker refuses.
uint64_t LogTreeSize(const std::shared_ptr<grpc::Channel>& channel);

// Records, as the agency `channel` authenticates, a consent given by the
// person `subject_identifier` themself for every built-in sector to share
// with every other for `purposes`, at any level, and returns its id. Tests
// whose subject is not the consent's call this to have a basis the broker
// accepts; the test fails if the broker refuses it.
std::string RecordConsentFromSubject(
    const std::shared_ptr<grpc::Channel>& channel,
    const std::string& subject_identifier,
    const std::vector<std::string>& purposes = {
        "child_welfare", "crime_prevention", "referral_feedback"});

// A referral from a health agency to `to` about a 15-year-old, with a full
// health record, under `consent_id` (see RecordConsentFromSubject) and a
// completed pre-sharing checklist: one the default policy lets through to
// social care.
v1::SendReferralRequest ExampleHealthReferral(const std::string& key,
                                              const std::string& to,
                                              const std::string& consent_id);
// Its subject's identifier.
inline constexpr char kExampleSubject[] = "20110412-2389";

// Path of a built binary, set by CMake.
std::string BinaryPath(const std::string& name);

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_INTEGRATION_HARNESS_H_
