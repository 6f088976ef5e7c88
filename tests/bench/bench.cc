// liaison-bench: the referral path against the transport's own ceiling.
//
// Makes a throw-away deployment (CA, certificates, registry, the default
// policy set), starts the real liaison-broker on it, and measures in one
// run, at the same concurrency over the same mutual TLS channels:
//
//   baseline  a unary call that does nothing: the gRPC health check;
//   pipeline  the full referral path: SendReferral (policy decision,
//             consent check, abstraction, durable commit with its log entry
//             and signed tree head), delivery over the recipient's Deliver
//             stream, and the recipient's acknowledgement on the same
//             stream. A referral's latency runs from the send to the
//             broker's answer that the acknowledgement is durable.
//
// Then it connects --idle_streams agencies' Receive streams at once and
// reads the broker's memory. It reports throughput and p50/p99 latency of
// each phase, their ratio and the broker's peak RSS; the last line of its
// output is one JSON object with those figures. It reports; it asserts
// nothing about speed. A call that fails ends it with status 1, so it
// cannot report the speed of refusals.
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/status_macros.h"
#include "broker/store/postgres/pg_connection.h"
#include "certs/ca.h"
#include "clients/client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"
#include "tests/common/pg_cluster.h"

ABSL_FLAG(int, concurrency, 64,
          "Callers making calls at once, in each phase (1 to 1024).");
ABSL_FLAG(double, duration_seconds, 10, "How long each phase measures.");
ABSL_FLAG(double, warmup_seconds, 2,
          "How long each phase runs before it measures.");
ABSL_FLAG(int, payload_bytes, 1024,
          "Size of the free text in each referral's record, bytes.");
ABSL_FLAG(int, agencies, 4,
          "Agencies in the pipeline, at least 2: half hospitals that send, "
          "half social services that receive.");
ABSL_FLAG(int, idle_streams, 1000,
          "Agencies whose Receive streams are connected at once, idle, "
          "before the broker's memory is read; 0 skips it.");
ABSL_FLAG(std::string, broker, "",
          "The liaison-broker binary (default: the one beside this one).");
ABSL_FLAG(std::string, policy_dir, LIAISON_SOURCE_DIR "/policy/default",
          "The policy set the broker decides by.");
ABSL_FLAG(std::string, store, "sqlite",
          "The brokers' store: sqlite (the embedded default) or postgres (a "
          "throw-away PostgreSQL server, fsync on, started for the run).");
ABSL_FLAG(int, brokers, 1,
          "Brokers sharing the store, 1 to 8; more than 1 needs "
          "--store=postgres. Callers and recipients are spread across them.");
ABSL_FLAG(bool, compare, false,
          "Measure side by side in one run: SQLite with one broker, "
          "PostgreSQL with one broker and with --brokers (3 unless given), "
          "and a plain PostgreSQL queue done by hand.");
ABSL_FLAG(std::string, dir, "",
          "Folder for the deployment (created; default: a new temporary "
          "folder, removed at the end).");

namespace liaison {
namespace {

constexpr char kUsage[] =
    R"(liaison-bench: the referral path against a do-nothing call, same mTLS.

Usage: liaison-bench [--concurrency=64] [--duration_seconds=10]
                     [--payload_bytes=1024] [--agencies=4]
                     [--idle_streams=1000]
                     [--store=sqlite|postgres] [--brokers=1] [--compare]

Starts a real liaison-broker on a throw-away deployment and measures, at
the same concurrency over the same channels, (a) the gRPC health check, a
call that does nothing, and (b) referrals sent, delivered over Deliver and
acknowledged on the same stream. Then connects --idle_streams Receive
streams and reads the broker's memory. The last line is one JSON object:
{"baseline_rps":...,"pipeline_rps":...,"ratio":...,"p50_ms":...,
 "p99_ms":...,"broker_rss_mb":...,"bytes_per_referral":...,
 "cpu_ms_per_referral":...,"peer_rps":...,"peer_ratio":...,"runs":[...]}
(p50/p99 of the pipeline; bytes written to storage and broker CPU per
referral; peer: the same three steps as a queue a team would build by hand
on SQLite, in this process, with the same durability and callers, and
the pipeline's rate over it; runs: each run's figures.)

With --store=postgres the brokers share a throw-away PostgreSQL server
(fsync on, as a real one), and a plain queue done by hand on the same
server is measured too: insert with a log row, lease with SKIP LOCKED,
delete, each its own transaction. --compare runs SQLite with one broker,
PostgreSQL with one and with --brokers brokers, and that queue, in one
run, with the CPU each part used per referral.
)";

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "liaison-bench: " << message << std::endl;
  std::exit(1);
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

void Say(const std::string& line) { std::cout << line << std::endl; }

// One principal's files.
struct Identity {
  std::string id;
  std::string cert;
  std::string key;
};

// A deployment CA with its certificates, a registry and a broker config.
class Deployment {
 public:
  explicit Deployment(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    absl::StatusOr<certs::CertificateAuthority> ca =
        certs::CertificateAuthority::Init(dir_ + "/ca", "Liaison bench CA",
                                          absl::Hours(24 * 30), absl::Now());
    Check(ca.status(), "creating the CA");
    ca_ = std::make_unique<certs::CertificateAuthority>(*std::move(ca));
    server_ = Issue("liaison://broker/bench", "server-bench", true);
    admin_ = Issue("liaison://admin/bench", "admin-bench", false);
    absl::StatusOr<certs::CrlSummary> crl =
        ca_->WriteCrl(dir_ + "/ca/crl.pem", absl::Now(), absl::Hours(24 * 7));
    Check(crl.status(), "writing the CRL");
  }

  const std::string& dir() const { return dir_; }
  std::string ca_cert() const { return dir_ + "/ca/ca.crt"; }
  const Identity& admin() const { return admin_; }

  // Issues an agency certificate and adds the agency to the registry seed.
  Identity AddAgency(const std::string& sector, const std::string& id) {
    Identity agency = Issue(absl::StrCat("liaison://agency/", sector, "/", id),
                            absl::StrCat("agency-", id), false);
    absl::StrAppend(&registry_, "agencies { id: \"", id, "\" sector: \"",
                    sector,
                    "\" jurisdiction: \"se\" area: \"malmo\" display_name: \"",
                    id, "\" public_authority: true }\n");
    return agency;
  }

  // Writes the registry seed and a broker config named `name`, with its
  // data in `data_dir` and `store` (a config line, or empty for SQLite in
  // data_dir); returns the config's path.
  std::string WriteConfig(const std::string& policy_dir,
                          const std::string& name, const std::string& data_dir,
                          const std::string& store) const {
    std::ofstream(dir_ + "/registry.textproto") << registry_;
    const std::string config = absl::StrCat(dir_, "/", name, ".textproto");
    std::ofstream(config) << "listen: \"127.0.0.1:0\"\n"
                          << "tls_cert: \"" << server_.cert << "\"\n"
                          << "tls_key: \"" << server_.key << "\"\n"
                          << "ca: \"" << ca_cert() << "\"\n"
                          << "crl: \"" << dir_ << "/ca/crl.pem\"\n"
                          << "data_dir: \"" << data_dir << "\"\n"
                          << "registry: \"" << dir_ << "/registry.textproto\"\n"
                          << "policy_dir: \"" << policy_dir << "\"\n"
                          << store << "\n";
    return config;
  }

 private:
  Identity Issue(const std::string& uri, const std::string& label,
                 bool server) {
    certs::IssueSpec spec;
    spec.common_name = label.substr(0, 64);
    spec.uri_sans = {uri};
    if (server) {
      spec.dns_sans = {"localhost"};
      spec.ip_sans = {"127.0.0.1"};
    }
    spec.not_before = absl::Now() - absl::Minutes(5);
    spec.validity = absl::Hours(24 * 7);
    spec.server_auth = server;
    spec.client_auth = true;
    spec.label = label;
    absl::StatusOr<certs::IssuedCertificate> issued =
        ca_->Issue(spec, dir_ + "/issued");
    Check(issued.status(), absl::StrCat("issuing ", uri));
    return Identity{uri.substr(uri.rfind('/') + 1), issued->cert_path,
                    issued->key_path};
  }

  const std::string dir_;
  std::unique_ptr<certs::CertificateAuthority> ca_;
  Identity server_;
  Identity admin_;
  std::string registry_;
};

// CPU time process `pid` has used, user and system, from /proc.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  std::getline(in, stat);
  // Fields after the command, which is in parentheses and may hold spaces:
  // utime and stime are the 12th and 13th of them.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i >= 12) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Bytes process `pid` has caused to be written to storage so far, from
// /proc (write_bytes: what reached the block layer, not what it asked).
double ProcessWriteBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/io"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("write_bytes:", 0) == 0) {
      return std::strtod(line.c_str() + 12, nullptr);
    }
  }
  return 0;
}

// CPU time and bytes written so far.
struct Usage {
  double cpu_seconds = 0;
  double write_bytes = 0;
};

Usage ProcessUsage(pid_t pid) {
  return Usage{ProcessCpuSeconds(pid), ProcessWriteBytes(pid)};
}

// The same summed over every PostgreSQL server process on the machine.
Usage PostgresUsage() {
  Usage total;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) {
      continue;
    }
    std::ifstream comm(entry.path() / "comm");
    std::string command;
    std::getline(comm, command);
    if (command == "postgres") {
      const Usage u = ProcessUsage(std::stoi(name));
      total.cpu_seconds += u.cpu_seconds;
      total.write_bytes += u.write_bytes;
    }
  }
  return total;
}

// CPU time this process (the callers) has used so far.
double OwnCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

// liaison-broker as a child process, its output in a file.
class BrokerProcess {
 public:
  BrokerProcess(const std::string& binary, const std::string& config,
                const std::string& data_dir, const std::string& log) {
    const pid_t bench = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Stopped with the bench, however it ends: a run that dies on an
      // error left its brokers running.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != bench) _exit(1);
      FILE* out = std::fopen(log.c_str(), "w");
      if (out != nullptr) {
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(out), STDERR_FILENO);
      }
      execl(binary.c_str(), binary.c_str(), ("--config=" + config).c_str(),
            "--shutdown_grace_seconds=1", static_cast<char*>(nullptr));
      _exit(127);
    }
    // The broker writes its port once it accepts calls. Brokers sharing a
    // data_dir start one after another, so each reads its own.
    const std::string port_file = data_dir + "/broker.port";
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      in >> port_;
      if (port_ != 0) break;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        Die(absl::StrCat("liaison-broker exited at start; see ", log));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (port_ == 0)
      Die(absl::StrCat("liaison-broker did not start; see ", log));
    std::remove(port_file.c_str());
  }
  ~BrokerProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }
  // CPU time the broker has used so far, and bytes it had written.
  Usage Used() const { return ProcessUsage(pid_); }
  // A field of /proc/PID/status in MiB, e.g. "VmHWM" (peak) or "VmRSS".
  double MemoryMb(const std::string& field) const {
    std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(field + ":", 0) != 0) continue;
      std::istringstream fields(line.substr(field.size() + 1));
      double kb = 0;
      fields >> kb;
      return kb / 1024;
    }
    return 0;
  }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

std::shared_ptr<grpc::Channel> ChannelAs(const Identity& who,
                                         const std::string& ca, int port) {
  client::ConnectionOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.cert_path = who.cert;
  options.key_path = who.key;
  options.ca_path = ca;
  options.server_name = "localhost";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::OpenChannel(options);
  Check(channel.status(), absl::StrCat("channel as ", who.id));
  return *channel;
}

grpc::Status Timed(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
  return grpc::Status::OK;
}

// Latencies and completions of one phase.
struct PhaseResult {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t calls = 0;
};

double Percentile(std::vector<double>* sorted, double p) {
  if (sorted->empty()) return 0;
  const size_t at = std::min(
      sorted->size() - 1, static_cast<size_t>(p * (sorted->size() - 1) + 0.5));
  return (*sorted)[at];
}

// Runs `one_call(worker)` in a closed loop on `workers` threads: a warm-up,
// then the measured period. `one_call` returns the call's latency.
// `mark(true)` and `mark(false)` run as measuring starts and ends.
PhaseResult RunPhase(int workers, absl::Duration warmup,
                     absl::Duration duration,
                     const std::function<absl::Duration(int)>& one_call,
                     const std::function<void(bool)>& mark = nullptr) {
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::vector<double>> latencies(workers);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      while (!stop.load()) {
        const bool counted = measuring.load();
        const absl::Duration took = one_call(w);
        if (counted && !stop.load()) {
          latencies[w].push_back(absl::ToDoubleMilliseconds(took));
        }
      }
    });
  }
  absl::SleepFor(warmup);
  if (mark) mark(true);
  measuring = true;
  const absl::Time start = absl::Now();
  absl::SleepFor(duration);
  stop = true;
  const absl::Duration measured = absl::Now() - start;
  if (mark) mark(false);
  for (std::thread& t : threads) t.join();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  PhaseResult r;
  r.calls = all.size();
  r.rps = all.size() / absl::ToDoubleSeconds(measured);
  r.p50_ms = Percentile(&all, 0.50);
  r.p99_ms = Percentile(&all, 0.99);
  return r;
}

// Values handed from one thread to the one waiting for them, by key: a
// delivered message's id by its referral's, an acknowledged message by its
// own id. Each waiter has its own notification, so handing one over wakes
// only its waiter (a condition per waiter on one mutex made every hand-over
// evaluate all 64 callers' conditions).
class Handover {
 public:
  void Give(const std::string& key, std::string value) {
    absl::MutexLock lock(&mu_);
    auto waiting = waiting_.find(key);
    if (waiting == waiting_.end()) {
      given_[key] = std::move(value);
      return;
    }
    waiting->second->value = std::move(value);
    waiting->second->ready.Notify();
    waiting_.erase(waiting);
  }
  // The value given for `key`; Die after 30 s saying `what` never came.
  std::string Take(const std::string& key, absl::string_view what) {
    Slot slot;
    {
      absl::MutexLock lock(&mu_);
      auto given = given_.find(key);
      if (given != given_.end()) {
        std::string value = std::move(given->second);
        given_.erase(given);
        return value;
      }
      waiting_[key] = &slot;
    }
    if (!slot.ready.WaitForNotificationWithTimeout(absl::Seconds(30))) {
      Die(absl::StrCat(what, " ", key));
    }
    return std::move(slot.value);
  }

 private:
  struct Slot {
    absl::Notification ready;
    std::string value;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> given_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Slot*> waiting_ ABSL_GUARDED_BY(mu_);
};

// Messages delivered on the recipients' streams, by referral id, until
// the sender that waits for one takes it.
class Deliveries {
 public:
  void Delivered(const std::string& referral_id,
                 const std::string& message_id) {
    handover_.Give(referral_id, message_id);
  }
  // The message id of `referral_id`'s delivery; Die after 30 s.
  std::string Await(const std::string& referral_id) {
    return handover_.Take(referral_id, "never delivered: referral");
  }

 private:
  Handover handover_;
};

// One recipient's Deliver stream: messages read by one thread, and
// acknowledgements written by another, every id waiting at that moment in
// one request, as an agency system taking many messages would.
class Recipient {
 public:
  Recipient(std::shared_ptr<grpc::Channel> channel, Deliveries* deliveries)
      : stub_(v1::Exchange::NewStub(channel)) {
    stream_ = stub_->Deliver(&ctx_);
    if (!stream_->Write(v1::DeliverRequest())) {
      Die("the broker did not open the Deliver stream");
    }
    reader_ = std::thread([this, deliveries] {
      v1::DeliverResponse r;
      while (stream_->Read(&r)) {
        if (r.has_message() && r.message().has_referral()) {
          deliveries->Delivered(r.message().referral_id(),
                                r.message().message_id());
        }
        if (!r.has_acknowledged()) continue;
        if (r.acknowledged().refused_size() > 0) {
          Die("Ack refused: " + r.acknowledged().refused(0).reason());
        }
        for (const std::string& id : r.acknowledged().message_ids()) {
          acknowledged_.Give(id, "");
        }
      }
    });
    writer_ = std::thread([this] { WriteAcks(); });
  }
  ~Recipient() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    writer_.join();
    ctx_.TryCancel();
    reader_.join();
    stream_->Finish().IgnoreError();
  }
  // Acknowledges `message_id` on the stream; returns once the broker says
  // it is durable. Die after 30 s.
  void Ack(const std::string& message_id) {
    {
      absl::MutexLock lock(&mu_);
      to_ack_.push_back(message_id);
    }
    acknowledged_.Take(message_id, "never acknowledged: message");
  }

 private:
  void WriteAcks() {
    for (;;) {
      v1::DeliverRequest request;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Recipient* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
              return r->stopping_ || !r->to_ack_.empty();
            },
            this));
        if (stopping_) return;
        while (!to_ack_.empty() && request.ack_message_ids_size() < 1000) {
          request.add_ack_message_ids(std::move(to_ack_.front()));
          to_ack_.pop_front();
        }
      }
      if (!stream_->Write(request)) return;
    }
  }

  std::unique_ptr<v1::Exchange::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::DeliverRequest, v1::DeliverResponse>>
      stream_;
  absl::Mutex mu_;
  std::deque<std::string> to_ack_ ABSL_GUARDED_BY(mu_);
  Handover acknowledged_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
  std::thread writer_;
};

// A Receive stream that only waits, for the memory measurement.
class IdleStream final : public grpc::ClientReadReactor<v1::InboxMessage> {
 public:
  explicit IdleStream(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::Exchange::NewStub(std::move(channel))) {
    stub_->async()->Receive(&ctx_, &request_, this);
    StartRead(&message_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&message_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
    status_ = status;
  }
  void AwaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  std::unique_ptr<v1::Exchange::Stub> stub_;
  grpc::ClientContext ctx_;
  v1::ReceiveRequest request_;
  v1::InboxMessage message_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

std::string SubjectId(int i) { return absl::StrFormat("19800101-%04d", i); }

std::string RecordConsent(v1::Exchange::Stub& stub,
                          const std::string& subject) {
  v1::RecordConsentRequest request;
  request.set_idempotency_key("bench-consent-" + subject);
  v1::Consent* c = request.mutable_consent();
  c->set_grantor(v1::GRANTOR_SUBJECT);
  c->mutable_subject()->set_identifier(subject);
  c->mutable_subject()->set_birth_date("1980-01-01");
  c->add_disclosing()->set_sector("health");
  c->add_recipients()->set_sector("social_care");
  c->add_purposes("child_welfare");
  c->set_max_level(v1::LEVEL_SUMMARY);
  c->mutable_evidence()->set_form_reference("BENCH-1");
  c->mutable_evidence()->set_form_version("v1");
  c->mutable_evidence()->set_language("sv");
  grpc::ClientContext ctx;
  Timed(&ctx).IgnoreError();
  v1::Consent recorded;
  grpc::Status s = stub.RecordConsent(&ctx, request, &recorded);
  if (!s.ok()) Die("RecordConsent refused: " + s.error_message());
  return recorded.consent_id();
}

void RaiseFileLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// What every measured phase shares.
struct Settings {
  int concurrency = 0;
  absl::Duration warmup;
  absl::Duration duration;
  int payload = 0;
};

// Brokers on one store, started for the run and stopped with the object.
struct Brokers {
  std::string store;  // "sqlite" or "postgres"
  std::vector<std::unique_ptr<BrokerProcess>> processes;

  std::string name() const {
    return absl::StrCat(store, " x", processes.size());
  }
  Usage Used() const {
    Usage total;
    for (const auto& p : processes) {
      const Usage u = p->Used();
      total.cpu_seconds += u.cpu_seconds;
      total.write_bytes += u.write_bytes;
    }
    return total;
  }
};

// A phase's figures with what each part used per completed item.
struct Measured {
  std::string name;
  PhaseResult phase;
  double broker_cpu_us = 0;
  double postgres_cpu_us = 0;
  double client_cpu_us = 0;
  // Written to storage by the brokers, PostgreSQL, and (for a queue run
  // in this process) this process.
  double bytes = 0;
};

// Measures CPU and bytes written between mark(true) and mark(false), then
// divides them by the phase's completions.
class UsageWindow {
 public:
  UsageWindow(const Brokers* brokers, bool postgres)
      : brokers_(brokers), postgres_(postgres) {}
  void Mark(bool starting) {
    const double sign = starting ? -1 : 1;
    if (brokers_ != nullptr) Add(sign, brokers_->Used(), &broker_);
    if (postgres_) Add(sign, PostgresUsage(), &postgres_usage_);
    Add(sign, ProcessUsage(getpid()), &own_);
    client_ += sign * OwnCpuSeconds();
  }
  void Fill(Measured* m) const {
    const double n = std::max<double>(1, m->phase.calls);
    m->broker_cpu_us = broker_.cpu_seconds * 1e6 / n;
    m->postgres_cpu_us = postgres_usage_.cpu_seconds * 1e6 / n;
    m->client_cpu_us = client_ * 1e6 / n;
    m->bytes =
        (broker_.write_bytes + postgres_usage_.write_bytes + own_.write_bytes) /
        n;
  }

 private:
  static void Add(double sign, const Usage& u, Usage* into) {
    into->cpu_seconds += sign * u.cpu_seconds;
    into->write_bytes += sign * u.write_bytes;
  }
  const Brokers* brokers_;
  const bool postgres_;
  Usage broker_, postgres_usage_;
  Usage own_;  // only its bytes count: its CPU is client_
  double client_ = 0;
};

// Sends, delivers and acknowledges referrals through `brokers`: caller w
// sends as sender w % S through broker w % B, and recipient r reads its
// Deliver stream on broker r % B, so with several brokers most deliveries
// cross from one broker to another.
Measured RunPipeline(const Brokers& brokers, const Deployment& deployment,
                     const std::vector<Identity>& senders,
                     const std::vector<Identity>& recipients,
                     const Settings& settings) {
  const std::string ca = deployment.ca_cert();
  const size_t n = brokers.processes.size();
  std::vector<std::unique_ptr<v1::Exchange::Stub>> exchange;
  std::vector<std::string> consents;
  Say(absl::StrCat("pipeline on ", brokers.name(),
                   ": recording consents, opening the recipients' "
                   "streams..."));
  std::vector<std::shared_ptr<grpc::Channel>> channels(senders.size() * n);
  for (int w = 0; w < settings.concurrency; ++w) {
    const size_t s = w % senders.size(), b = w % n;
    std::shared_ptr<grpc::Channel>& channel = channels[s * n + b];
    if (channel == nullptr) {
      channel = ChannelAs(senders[s], ca, brokers.processes[b]->port());
    }
    exchange.push_back(v1::Exchange::NewStub(channel));
    consents.push_back(RecordConsent(*exchange[w], SubjectId(w)));
  }
  Deliveries deliveries;
  std::vector<std::unique_ptr<Recipient>> streams;
  for (size_t r = 0; r < recipients.size(); ++r) {
    streams.push_back(std::make_unique<Recipient>(
        ChannelAs(recipients[r], ca, brokers.processes[r % n]->port()),
        &deliveries));
  }
  const std::string notes(static_cast<size_t>(settings.payload), 'n');
  std::atomic<uint64_t> sequence{0};
  Say(absl::StrCat("pipeline on ", brokers.name(), ": send, deliver, ack; ",
                   settings.concurrency, " callers, ", settings.payload,
                   "-byte payloads..."));
  UsageWindow cpu(&brokers, brokers.store == "postgres");
  Measured m;
  m.name = brokers.name();
  m.phase = RunPhase(
      settings.concurrency, settings.warmup, settings.duration,
      [&](int w) {
        const size_t to = w % streams.size();
        v1::SendReferralRequest request = testing::HealthReferral(
            recipients[to].id, SubjectId(w), "1980-01-01", consents[w], notes);
        request.set_idempotency_key(absl::StrCat("bench-", sequence++));
        const absl::Time start = absl::Now();
        grpc::ClientContext ctx;
        Timed(&ctx).IgnoreError();
        v1::SendReferralResponse sent;
        grpc::Status s = exchange[w]->SendReferral(&ctx, request, &sent);
        if (!s.ok()) Die("SendReferral refused: " + s.error_message());
        const std::string message = deliveries.Await(sent.referral_id());
        streams[to]->Ack(message);
        return absl::Now() - start;
      },
      [&](bool starting) { cpu.Mark(starting); });
  cpu.Fill(&m);
  Say(absl::StrFormat(
      "  %.0f referrals/s, p50 %.2f ms, p99 %.2f ms (%d referrals)",
      m.phase.rps, m.phase.p50_ms, m.phase.p99_ms, m.phase.calls));
  return m;
}

// The queue a team would build by hand on PostgreSQL, for comparison: a
// message inserted with a log row, leased with SKIP LOCKED, deleted; each
// step its own transaction and synchronous commit. Over the server's Unix
// socket, without TLS.
Measured RunQueue(testing::PgCluster& server, const Settings& settings) {
  Check(server.CreateDatabase("bench_queue"), "creating the queue database");
  const std::string conninfo = server.Conninfo("bench_queue");
  std::vector<std::unique_ptr<pg::Connection>> connections;
  for (int w = 0; w < settings.concurrency; ++w) {
    absl::StatusOr<std::unique_ptr<pg::Connection>> c =
        pg::Connection::Open(conninfo);
    Check(c.status(), "connecting to the queue database");
    connections.push_back(*std::move(c));
  }
  Check(connections[0]->Exec(
            "CREATE TABLE queue (id BIGSERIAL PRIMARY KEY, payload TEXT NOT "
            "NULL, leased_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity');"
            "CREATE TABLE queue_log (id BIGSERIAL PRIMARY KEY, message_id "
            "BIGINT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())"),
        "creating the queue");
  const std::string payload(static_cast<size_t>(settings.payload), 'n');
  Say(absl::StrCat("hand-built PostgreSQL queue: insert, lease, delete; ",
                   settings.concurrency, " callers..."));
  UsageWindow cpu(nullptr, /*postgres=*/true);
  Measured m;
  m.name = "plain queue";
  m.phase = RunPhase(
      settings.concurrency, settings.warmup, settings.duration,
      [&](int w) {
        pg::Connection& c = *connections[w];
        const absl::Time start = absl::Now();
        Check(c.Run("WITH m AS (INSERT INTO queue (payload) VALUES ($1) "
                    "RETURNING id) INSERT INTO queue_log (message_id) "
                    "SELECT id FROM m",
                    {pg::Param::Text(payload)})
                  .status(),
              "queue insert");
        for (;;) {
          absl::StatusOr<pg::Result> leased = c.Run(
              "UPDATE queue SET leased_until = now() + interval '30 "
              "seconds' WHERE id = (SELECT id FROM queue WHERE leased_until "
              "< now() ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) "
              "RETURNING id");
          Check(leased.status(), "queue lease");
          if (leased->rows() == 0) continue;
          Check(c.Run("DELETE FROM queue WHERE id = $1",
                      {pg::Param::Int(leased->Int(0, 0))})
                    .status(),
                "queue delete");
          break;
        }
        return absl::Now() - start;
      },
      [&](bool starting) { cpu.Mark(starting); });
  cpu.Fill(&m);
  Say(absl::StrFormat(
      "  %.0f messages/s, p50 %.2f ms, p99 %.2f ms (%d messages)", m.phase.rps,
      m.phase.p50_ms, m.phase.p99_ms, m.phase.calls));
  return m;
}

// The queue a team would build by hand on SQLite, for comparison, in this
// process: one connection in WAL mode with synchronous=FULL, as the
// broker's store, shared by the callers under a lock; a message inserted
// with a log row, leased, deleted, each step its own transaction.
Measured RunSqlitePeer(const std::string& path, const Settings& settings) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    Die(absl::StrCat("cannot open ", path, ": ", sqlite3_errmsg(db)));
  }
  auto exec = [db](const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      Die(absl::StrCat("peer queue: ", error ? error : "?", " in: ", sql));
    }
  };
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec(
      "CREATE TABLE queue (id INTEGER PRIMARY KEY, payload BLOB NOT NULL, "
      "leased_until INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE queue_log (id INTEGER PRIMARY KEY, message_id INTEGER "
      "NOT NULL, at INTEGER NOT NULL)");
  auto prepare = [db](const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
      Die(absl::StrCat("peer queue: ", sqlite3_errmsg(db), " in: ", sql));
    }
    return s;
  };
  sqlite3_stmt* insert = prepare("INSERT INTO queue (payload) VALUES (?)");
  sqlite3_stmt* log = prepare(
      "INSERT INTO queue_log (message_id, at) VALUES (last_insert_rowid(), "
      "?)");
  sqlite3_stmt* lease = prepare(
      "UPDATE queue SET leased_until = ?1 + 30000000 WHERE id = (SELECT id "
      "FROM queue WHERE leased_until < ?1 ORDER BY id LIMIT 1) RETURNING id");
  sqlite3_stmt* remove = prepare("DELETE FROM queue WHERE id = ?");
  auto step = [db](sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      Die(absl::StrCat("peer queue: ", sqlite3_errmsg(db)));
    }
    return rc;
  };
  const std::string payload(static_cast<size_t>(settings.payload), 'n');
  absl::Mutex mu;
  Say(absl::StrCat("hand-built SQLite queue: insert, lease, delete; ",
                   settings.concurrency, " callers..."));
  UsageWindow usage(nullptr, /*postgres=*/false);
  Measured m;
  m.name = "sqlite queue";
  m.phase = RunPhase(
      settings.concurrency, settings.warmup, settings.duration,
      [&](int) {
        const absl::Time start = absl::Now();
        const int64_t now = absl::ToUnixMicros(start);
        {
          absl::MutexLock lock(&mu);
          exec("BEGIN IMMEDIATE");
          sqlite3_bind_blob(insert, 1, payload.data(),
                            static_cast<int>(payload.size()), SQLITE_STATIC);
          step(insert);
          sqlite3_reset(insert);
          sqlite3_bind_int64(log, 1, now);
          step(log);
          sqlite3_reset(log);
          exec("COMMIT");
        }
        for (;;) {
          absl::MutexLock lock(&mu);
          exec("BEGIN IMMEDIATE");
          sqlite3_bind_int64(lease, 1, absl::ToUnixMicros(absl::Now()));
          const bool got = step(lease) == SQLITE_ROW;
          const int64_t id = got ? sqlite3_column_int64(lease, 0) : 0;
          sqlite3_reset(lease);
          exec("COMMIT");
          if (!got) continue;
          exec("BEGIN IMMEDIATE");
          sqlite3_bind_int64(remove, 1, id);
          step(remove);
          sqlite3_reset(remove);
          exec("COMMIT");
          break;
        }
        return absl::Now() - start;
      },
      [&](bool starting) { usage.Mark(starting); });
  usage.Fill(&m);
  for (sqlite3_stmt* s : {insert, log, lease, remove}) sqlite3_finalize(s);
  sqlite3_close(db);
  Say(absl::StrFormat(
      "  %.0f messages/s, p50 %.2f ms, p99 %.2f ms (%d messages)", m.phase.rps,
      m.phase.p50_ms, m.phase.p99_ms, m.phase.calls));
  return m;
}

int Run() {
  Settings settings;
  settings.concurrency = absl::GetFlag(FLAGS_concurrency);
  settings.payload = absl::GetFlag(FLAGS_payload_bytes);
  settings.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  settings.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  const int concurrency = settings.concurrency;
  const int agencies = absl::GetFlag(FLAGS_agencies);
  const int idle = absl::GetFlag(FLAGS_idle_streams);
  const std::string store = absl::GetFlag(FLAGS_store);
  const bool compare = absl::GetFlag(FLAGS_compare);
  int brokers = absl::GetFlag(FLAGS_brokers);
  if (concurrency < 1 || concurrency > 1024) Die("--concurrency: 1 to 1024");
  if (agencies < 2 || agencies > 1000) Die("--agencies: 2 to 1000");
  if (idle < 0 || idle > 20000) Die("--idle_streams: 0 to 20000");
  if (settings.payload < 0 || settings.payload > 1 << 20) {
    Die("--payload_bytes: 0 to 1048576");
  }
  if (settings.duration <= absl::ZeroDuration() ||
      settings.warmup < absl::ZeroDuration()) {
    Die("--duration_seconds must be positive, --warmup_seconds not negative");
  }
  if (store != "sqlite" && store != "postgres") {
    Die("--store: sqlite or postgres");
  }
  if (brokers < 1 || brokers > 8) Die("--brokers: 1 to 8");
  if (brokers > 1 && store == "sqlite" && !compare) {
    Die("--brokers above 1 needs --store=postgres: brokers share a store "
        "only on PostgreSQL");
  }
  // What to measure: (store, brokers) in order; the first also gives the
  // baseline and the memory with idle streams.
  std::vector<std::pair<std::string, int>> runs;
  if (compare) {
    if (brokers == 1) brokers = 3;
    runs = {{"sqlite", 1}, {"postgres", 1}, {"postgres", brokers}};
  } else {
    runs = {{store, brokers}};
  }
  const bool postgres = compare || store == "postgres";
  std::string broker_binary = absl::GetFlag(FLAGS_broker);
  if (broker_binary.empty()) {
    broker_binary =
        (std::filesystem::read_symlink("/proc/self/exe").parent_path() /
         "liaison-broker")
            .string();
  }
  RaiseFileLimit();

  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool temporary = dir.empty();
  if (temporary) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "liaison-bench-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) Die("cannot make a temp folder");
    dir = pattern;
  }
  Say(absl::StrCat("deployment in ", dir, ": ", agencies, " agencies, ", idle,
                   " idle agencies, issuing certificates..."));
  Deployment deployment(dir);
  std::vector<Identity> senders, recipients, idlers;
  for (int i = 0; i < agencies; ++i) {
    if (i % 2 == 0) {
      senders.push_back(
          deployment.AddAgency("health", absl::StrCat("hospital-", i)));
    } else {
      recipients.push_back(
          deployment.AddAgency("social_care", absl::StrCat("social-", i)));
    }
  }
  for (int i = 0; i < idle; ++i) {
    idlers.push_back(
        deployment.AddAgency("education", absl::StrCat("school-", i)));
    if ((i + 1) % 250 == 0) Say(absl::StrCat("  ", i + 1, " idle agencies"));
  }
  std::unique_ptr<testing::PgCluster> server;
  if (postgres) {
    Say("starting a throw-away PostgreSQL server (fsync on)...");
    testing::PgCluster::Options options;
    options.durable = true;
    absl::StatusOr<std::unique_ptr<testing::PgCluster>> started =
        testing::PgCluster::Start(options);
    Check(started.status(), "starting PostgreSQL");
    server = *std::move(started);
  }
  const std::string ca = deployment.ca_cert();

  PhaseResult baseline;
  double peak_mb = 0;
  std::vector<Measured> measured;
  for (size_t i = 0; i < runs.size(); ++i) {
    Brokers started;
    started.store = runs[i].first;
    const std::string name =
        absl::StrCat("broker-", started.store, "-", runs[i].second);
    const std::string data_dir = absl::StrCat(dir, "/data-", name);
    std::string store_line;
    if (started.store == "postgres") {
      const std::string database = absl::StrCat("bench_", i);
      Check(server->CreateDatabase(database), "creating a database");
      store_line = absl::StrCat("store { postgres { conninfo: \"",
                                server->Conninfo(database), "\" } }");
    }
    const std::string config = deployment.WriteConfig(
        absl::GetFlag(FLAGS_policy_dir), name, data_dir, store_line);
    // The first broker makes the deployment's keys in the shared data_dir
    // and the schema; the others start on them.
    for (int b = 0; b < runs[i].second; ++b) {
      started.processes.push_back(std::make_unique<BrokerProcess>(
          broker_binary, config, data_dir,
          absl::StrCat(dir, "/", name, "-", b + 1, ".log")));
    }
    const BrokerProcess& first = *started.processes[0];
    Say(absl::StrCat(started.name(), ": broker 1 on 127.0.0.1:", first.port(),
                     ", ", absl::StrFormat("%.1f", first.MemoryMb("VmRSS")),
                     " MB at start"));

    if (i == 0) {
      // (a) baseline, over the channels of the first senders.
      std::vector<std::shared_ptr<grpc::Channel>> sender_channels;
      for (const Identity& s : senders) {
        sender_channels.push_back(ChannelAs(s, ca, first.port()));
      }
      std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health;
      for (int w = 0; w < concurrency; ++w) {
        health.push_back(grpc::health::v1::Health::NewStub(
            sender_channels[w % sender_channels.size()]));
      }
      Say(absl::StrCat("baseline: health checks, ", concurrency,
                       " callers..."));
      baseline =
          RunPhase(concurrency, settings.warmup, settings.duration, [&](int w) {
            grpc::ClientContext ctx;
            Timed(&ctx).IgnoreError();
            grpc::health::v1::HealthCheckRequest request;
            grpc::health::v1::HealthCheckResponse response;
            const absl::Time start = absl::Now();
            grpc::Status s = health[w]->Check(&ctx, request, &response);
            if (!s.ok()) {
              Die("health check failed: " + s.error_message());
            }
            return absl::Now() - start;
          });
      Say(absl::StrFormat("  %.0f calls/s, p50 %.2f ms, p99 %.2f ms (%d calls)",
                          baseline.rps, baseline.p50_ms, baseline.p99_ms,
                          baseline.calls));
    }

    // (b) pipeline
    measured.push_back(
        RunPipeline(started, deployment, senders, recipients, settings));

    // (c) memory with many streams connected, on the first run's broker.
    if (i == 0 && idle > 0) {
      Say(absl::StrCat("connecting ", idle, " idle Receive streams..."));
      std::vector<std::unique_ptr<IdleStream>> idle_streams;
      for (const Identity& a : idlers) {
        idle_streams.push_back(
            std::make_unique<IdleStream>(ChannelAs(a, ca, first.port())));
      }
      auto admin =
          v1::Admin::NewStub(ChannelAs(deployment.admin(), ca, first.port()));
      int connected = 0;
      for (int attempt = 0; attempt < 600 && connected < idle; ++attempt) {
        grpc::ClientContext ctx;
        Timed(&ctx).IgnoreError();
        v1::BrokerStatus status;
        grpc::Status s =
            admin->GetStatus(&ctx, v1::GetStatusRequest(), &status);
        if (!s.ok()) Die("GetStatus failed: " + s.error_message());
        connected = 0;
        for (const std::string& id : status.connected_agencies()) {
          if (id.rfind("school-", 0) == 0) ++connected;
        }
        if (connected < idle) absl::SleepFor(absl::Milliseconds(200));
      }
      if (connected < idle) {
        Die(absl::StrCat("only ", connected, " of ", idle,
                         " idle streams connected"));
      }
      Say(absl::StrFormat("  %d streams connected: broker RSS %.1f MB",
                          connected, first.MemoryMb("VmRSS")));
      for (auto& s : idle_streams) s->Cancel();
      for (auto& s : idle_streams) s->AwaitDone();
    }
    if (i == 0) peak_mb = first.MemoryMb("VmHWM");
  }  // each run's brokers stop here, before the next run starts
  const Measured peer =
      RunSqlitePeer(absl::StrCat(dir, "/peer-queue.db"), settings);
  measured.push_back(peer);
  if (postgres) measured.push_back(RunQueue(*server, settings));

  const Measured& first = measured[0];
  const PhaseResult& pipeline = first.phase;
  const double ratio = baseline.rps > 0 ? pipeline.rps / baseline.rps : 0;
  const double peer_ratio =
      peer.phase.rps > 0 ? pipeline.rps / peer.phase.rps : 0;
  Say(absl::StrFormat("ratio pipeline/baseline %.3f; broker peak RSS %.1f MB",
                      ratio, peak_mb));
  Say(absl::StrFormat(
      "%s: %.0f bytes written and %.3f ms of broker CPU per referral; %.2f "
      "times the hand-built SQLite queue's rate",
      first.name, first.bytes, first.broker_cpu_us / 1000, peer_ratio));
  Say("");
  Say(absl::StrFormat("%-14s %9s %7s %8s %8s %9s %22s", "run", "per s", "ratio",
                      "p50 ms", "p99 ms", "bytes", "CPU us/item: brk pg cli"));
  std::string runs_json;
  for (const Measured& m : measured) {
    const double r = baseline.rps > 0 ? m.phase.rps / baseline.rps : 0;
    Say(absl::StrFormat(
        "%-14s %9.0f %7.3f %8.2f %8.2f %9.0f %12.0f %4.0f %4.0f", m.name,
        m.phase.rps, r, m.phase.p50_ms, m.phase.p99_ms, m.bytes,
        m.broker_cpu_us, m.postgres_cpu_us, m.client_cpu_us));
    absl::StrAppend(
        &runs_json, runs_json.empty() ? "" : ",",
        absl::StrFormat(
            "{\"run\":\"%s\",\"per_s\":%.1f,\"ratio\":%.4f,"
            "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"bytes_per_item\":%.0f,"
            "\"broker_cpu_us\":%.0f,\"postgres_cpu_us\":%.0f,"
            "\"client_cpu_us\":%.0f}",
            m.name, m.phase.rps, r, m.phase.p50_ms, m.phase.p99_ms, m.bytes,
            m.broker_cpu_us, m.postgres_cpu_us, m.client_cpu_us));
  }
  Say(
      absl::StrCat("(bytes: written to storage per item; the queues run by "
                   "hand without TLS, SQLite's in this process; ratios are "
                   "against the baseline of ",
                   first.name, ")"));
  server.reset();
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::cout << absl::StrFormat(
                   "{\"baseline_rps\":%.1f,\"pipeline_rps\":%.1f,"
                   "\"ratio\":%.4f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                   "\"broker_rss_mb\":%.1f,\"bytes_per_referral\":%.0f,"
                   "\"cpu_ms_per_referral\":%.3f,\"peer_rps\":%.1f,"
                   "\"peer_ratio\":%.4f,\"runs\":[%s]}",
                   baseline.rps, pipeline.rps, ratio, pipeline.p50_ms,
                   pipeline.p99_ms, peak_mb, first.bytes,
                   first.broker_cpu_us / 1000, peer.phase.rps, peer_ratio,
                   runs_json)
            << std::endl;
  return 0;
}

}  // namespace
}  // namespace liaison

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(liaison::kUsage);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::cout << liaison::kUsage
                << "\nFlags: --concurrency --duration_seconds "
                   "--warmup_seconds --payload_bytes --agencies "
                   "--idle_streams --store --brokers --compare --broker "
                   "--policy_dir --dir (see "
                   "--helpfull)\n";
      return 0;
    }
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "liaison-bench: unexpected argument \"" << rest[1]
              << "\"; see liaison-bench --help" << std::endl;
    return 2;
  }
  return liaison::Run();
}
