// liaison-bench: the referral path against the transport's own ceiling.
//
// Makes a throw-away deployment (CA, certificates, registry, the default
// policy set), starts the real liaison-broker on it, and measures in one
// run, at the same concurrency over the same mutual TLS channels:
//
//   baseline  a unary call that does nothing: the gRPC health check;
//   pipeline  the full referral path: SendReferral (policy decision,
//             consent check, abstraction, durable commit with its log entry
//             and signed tree head), delivery over the recipient's Receive
//             stream, and the recipient's Ack. A referral's latency runs
//             from the send to the end of the Ack.
//
// Then it connects --idle_streams agencies' Receive streams at once and
// reads the broker's memory. It reports throughput and p50/p99 latency of
// each phase, their ratio and the broker's peak RSS; the last line of its
// output is one JSON object with those figures. It reports; it asserts
// nothing about speed. A call that fails ends it with status 1, so it
// cannot report the speed of refusals.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/basics/status_macros.h"
#include "certs/ca.h"
#include "clients/client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "liaison/v1/admin.grpc.pb.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "tests/common/example_referral.h"

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

Starts a real liaison-broker on a throw-away deployment and measures, at
the same concurrency over the same channels, (a) the gRPC health check, a
call that does nothing, and (b) referrals sent, delivered over Receive and
acknowledged. Then connects --idle_streams Receive streams and reads the
broker's memory. The last line is one JSON object:
{"baseline_rps":...,"pipeline_rps":...,"ratio":...,"p50_ms":...,
 "p99_ms":...,"broker_rss_mb":...}  (p50/p99 of the pipeline).
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

  // Writes the registry seed and the broker config; returns the config.
  std::string WriteConfig(const std::string& policy_dir) const {
    std::ofstream(dir_ + "/registry.textproto") << registry_;
    const std::string config = dir_ + "/broker.textproto";
    std::ofstream(config) << "listen: \"127.0.0.1:0\"\n"
                          << "tls_cert: \"" << server_.cert << "\"\n"
                          << "tls_key: \"" << server_.key << "\"\n"
                          << "ca: \"" << ca_cert() << "\"\n"
                          << "crl: \"" << dir_ << "/ca/crl.pem\"\n"
                          << "data_dir: \"" << dir_ << "/data\"\n"
                          << "registry: \"" << dir_ << "/registry.textproto\"\n"
                          << "policy_dir: \"" << policy_dir << "\"\n";
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

// liaison-broker as a child process, its output in a file.
class BrokerProcess {
 public:
  BrokerProcess(const std::string& binary, const std::string& config,
                const std::string& data_dir, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = std::fopen(log.c_str(), "w");
      if (out != nullptr) {
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(out), STDERR_FILENO);
      }
      execl(binary.c_str(), binary.c_str(), ("--config=" + config).c_str(),
            "--shutdown_grace_seconds=1", static_cast<char*>(nullptr));
      _exit(127);
    }
    // The broker writes its port once it accepts calls.
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
  }
  ~BrokerProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }
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
PhaseResult RunPhase(int workers, absl::Duration warmup,
                     absl::Duration duration,
                     const std::function<absl::Duration(int)>& one_call) {
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
  measuring = true;
  const absl::Time start = absl::Now();
  absl::SleepFor(duration);
  stop = true;
  const absl::Duration measured = absl::Now() - start;
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

// Messages delivered on the recipients' streams, by referral id, until
// the sender that waits for one takes it.
class Deliveries {
 public:
  void Delivered(const std::string& referral_id,
                 const std::string& message_id) {
    absl::MutexLock lock(&mu_);
    delivered_[referral_id] = message_id;
  }
  // The message id of `referral_id`'s delivery; Die after 30 s.
  std::string Await(const std::string& referral_id) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return delivered_.contains(referral_id);
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), absl::Seconds(30))) {
      Die(absl::StrCat("referral ", referral_id, " was never delivered"));
    }
    auto it = delivered_.find(referral_id);
    std::string id = std::move(it->second);
    delivered_.erase(it);
    return id;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> delivered_ ABSL_GUARDED_BY(mu_);
};

// Reads one recipient's Receive stream until it is cancelled.
class Recipient {
 public:
  Recipient(std::shared_ptr<grpc::Channel> channel, Deliveries* deliveries)
      : stub_(v1::Exchange::NewStub(channel)),
        acks_(v1::Exchange::NewStub(channel)) {
    reader_ = stub_->Receive(&ctx_, v1::ReceiveRequest());
    thread_ = std::thread([this, deliveries] {
      v1::InboxMessage m;
      while (reader_->Read(&m)) {
        if (m.has_referral())
          deliveries->Delivered(m.referral_id(), m.message_id());
      }
    });
  }
  ~Recipient() {
    ctx_.TryCancel();
    thread_.join();
    reader_->Finish().IgnoreError();
  }
  v1::Exchange::Stub& acks() { return *acks_; }

 private:
  std::unique_ptr<v1::Exchange::Stub> stub_;
  std::unique_ptr<v1::Exchange::Stub> acks_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::InboxMessage>> reader_;
  std::thread thread_;
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

int Run() {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int agencies = absl::GetFlag(FLAGS_agencies);
  const int idle = absl::GetFlag(FLAGS_idle_streams);
  const int payload = absl::GetFlag(FLAGS_payload_bytes);
  const absl::Duration duration =
      absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  const absl::Duration warmup =
      absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  if (concurrency < 1 || concurrency > 1024) Die("--concurrency: 1 to 1024");
  if (agencies < 2 || agencies > 1000) Die("--agencies: 2 to 1000");
  if (idle < 0 || idle > 20000) Die("--idle_streams: 0 to 20000");
  if (payload < 0 || payload > 1 << 20) Die("--payload_bytes: 0 to 1048576");
  if (duration <= absl::ZeroDuration() || warmup < absl::ZeroDuration()) {
    Die("--duration_seconds must be positive, --warmup_seconds not negative");
  }
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
  const std::string config =
      deployment.WriteConfig(absl::GetFlag(FLAGS_policy_dir));
  BrokerProcess broker(broker_binary, config, dir + "/data",
                       dir + "/broker.log");
  const std::string ca = deployment.ca_cert();
  Say(absl::StrCat("broker on 127.0.0.1:", broker.port(), ", ",
                   absl::StrFormat("%.1f", broker.MemoryMb("VmRSS")),
                   " MB at start"));

  // The same channels serve both phases: worker w calls as sender w % S.
  std::vector<std::shared_ptr<grpc::Channel>> sender_channels;
  for (const Identity& s : senders) {
    sender_channels.push_back(ChannelAs(s, ca, broker.port()));
  }
  auto channel_of = [&](int w) {
    return sender_channels[w % sender_channels.size()];
  };

  // (a) baseline
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health;
  for (int w = 0; w < concurrency; ++w) {
    health.push_back(grpc::health::v1::Health::NewStub(channel_of(w)));
  }
  Say(absl::StrCat("baseline: health checks, ", concurrency, " callers..."));
  const PhaseResult baseline =
      RunPhase(concurrency, warmup, duration, [&](int w) {
        grpc::ClientContext ctx;
        Timed(&ctx).IgnoreError();
        grpc::health::v1::HealthCheckRequest request;
        grpc::health::v1::HealthCheckResponse response;
        const absl::Time start = absl::Now();
        grpc::Status s = health[w]->Check(&ctx, request, &response);
        if (!s.ok()) Die("health check failed: " + s.error_message());
        return absl::Now() - start;
      });
  Say(absl::StrFormat("  %.0f calls/s, p50 %.2f ms, p99 %.2f ms (%d calls)",
                      baseline.rps, baseline.p50_ms, baseline.p99_ms,
                      baseline.calls));

  // (b) pipeline: one subject and consent per worker.
  Say("pipeline: recording consents, opening the recipients' streams...");
  std::vector<std::unique_ptr<v1::Exchange::Stub>> exchange;
  std::vector<std::string> consents;
  for (int w = 0; w < concurrency; ++w) {
    exchange.push_back(v1::Exchange::NewStub(channel_of(w)));
    consents.push_back(RecordConsent(*exchange[w], SubjectId(w)));
  }
  Deliveries deliveries;
  std::vector<std::unique_ptr<Recipient>> streams;
  for (const Identity& r : recipients) {
    streams.push_back(std::make_unique<Recipient>(
        ChannelAs(r, ca, broker.port()), &deliveries));
  }
  const std::string notes(static_cast<size_t>(payload), 'n');
  std::atomic<uint64_t> sequence{0};
  Say(absl::StrCat("pipeline: send, deliver, ack; ", concurrency, " callers, ",
                   payload, "-byte payloads..."));
  const PhaseResult pipeline =
      RunPhase(concurrency, warmup, duration, [&](int w) {
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
        grpc::ClientContext ack_ctx;
        Timed(&ack_ctx).IgnoreError();
        v1::AckRequest ack;
        ack.set_message_id(message);
        v1::AckResponse acked;
        s = streams[to]->acks().Ack(&ack_ctx, ack, &acked);
        if (!s.ok()) Die("Ack refused: " + s.error_message());
        return absl::Now() - start;
      });
  streams.clear();
  Say(absl::StrFormat(
      "  %.0f referrals/s, p50 %.2f ms, p99 %.2f ms (%d referrals)",
      pipeline.rps, pipeline.p50_ms, pipeline.p99_ms, pipeline.calls));

  // (c) memory with many streams connected.
  double with_streams_mb = 0;
  if (idle > 0) {
    Say(absl::StrCat("connecting ", idle, " idle Receive streams..."));
    std::vector<std::unique_ptr<IdleStream>> idle_streams;
    for (const Identity& a : idlers) {
      idle_streams.push_back(
          std::make_unique<IdleStream>(ChannelAs(a, ca, broker.port())));
    }
    auto admin =
        v1::Admin::NewStub(ChannelAs(deployment.admin(), ca, broker.port()));
    int connected = 0;
    for (int i = 0; i < 600 && connected < idle; ++i) {
      grpc::ClientContext ctx;
      Timed(&ctx).IgnoreError();
      v1::BrokerStatus status;
      grpc::Status s = admin->GetStatus(&ctx, v1::GetStatusRequest(), &status);
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
    with_streams_mb = broker.MemoryMb("VmRSS");
    Say(absl::StrFormat("  %d streams connected: broker RSS %.1f MB", connected,
                        with_streams_mb));
    for (auto& s : idle_streams) s->Cancel();
    for (auto& s : idle_streams) s->AwaitDone();
  }
  const double peak_mb = broker.MemoryMb("VmHWM");
  const double ratio = baseline.rps > 0 ? pipeline.rps / baseline.rps : 0;
  Say(absl::StrFormat("ratio pipeline/baseline %.3f; broker peak RSS %.1f MB",
                      ratio, peak_mb));
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::cout << absl::StrFormat(
                   "{\"baseline_rps\":%.1f,\"pipeline_rps\":%.1f,"
                   "\"ratio\":%.4f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                   "\"broker_rss_mb\":%.1f}",
                   baseline.rps, pipeline.rps, ratio, pipeline.p50_ms,
                   pipeline.p99_ms, peak_mb)
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
                   "--idle_streams --broker --policy_dir --dir (see "
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
