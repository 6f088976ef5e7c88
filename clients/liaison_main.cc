// liaison: the command line for agency systems, auditors and administrators.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "broker/basics/principal.h"
#include "broker/basics/request_file.h"
#include "broker/basics/status_macros.h"
#include "clients/admin_commands.h"
#include "clients/audit_commands.h"
#include "clients/cli.h"
#include "clients/client.h"
#include "clients/exchange_text.h"
#include "liaison/v1/exchange.grpc.pb.h"
#include "liaison/v1/identity.grpc.pb.h"

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

ABSL_FLAG(std::string, broker, EnvOr("LIAISON_BROKER", "127.0.0.1:7443"),
          "Broker address host:port (env LIAISON_BROKER).");
ABSL_FLAG(std::string, cert, EnvOr("LIAISON_CERT", ""),
          "Your certificate, PEM (env LIAISON_CERT).");
ABSL_FLAG(std::string, key, EnvOr("LIAISON_KEY", ""),
          "Your private key, PEM (env LIAISON_KEY).");
ABSL_FLAG(std::string, ca, EnvOr("LIAISON_CA", ""),
          "The deployment CA certificate, PEM (env LIAISON_CA).");
ABSL_FLAG(std::string, server_name, "",
          "Name to check the broker's certificate against (default: the host "
          "in --broker).");
ABSL_FLAG(double, timeout_seconds, 10, "Deadline for each call.");
ABSL_FLAG(std::string, professional_id, EnvOr("LIAISON_PROFESSIONAL_ID", ""),
          "The professional acting, e.g. a staff number; recorded with every "
          "call (env LIAISON_PROFESSIONAL_ID).");
ABSL_FLAG(std::string, professional_role,
          EnvOr("LIAISON_PROFESSIONAL_ROLE", ""),
          "That professional's role, e.g. \"duty social worker\" (env "
          "LIAISON_PROFESSIONAL_ROLE).");

// Flags of single commands; main refuses them with any other command.
ABSL_FLAG(std::string, idempotency_key, "",
          "send-referral, push-summary, request-summary, manual-disclosure, "
          "consent record and consent refuse: the idempotency key (default: "
          "the file's, else the SHA-256 of the file).");
ABSL_FLAG(bool, follow, false,
          "inbox: keep streaming and acknowledge each message once printed.");
ABSL_FLAG(int, lease_seconds, 0,
          "inbox: lease on each message delivered, seconds (0: the broker's "
          "default).");
ABSL_FLAG(std::string, reason, "",
          "referral decline: why; consent withdraw: why the consent is "
          "withdrawn.");
ABSL_FLAG(std::string, question, "", "referral info: the information needed.");
ABSL_FLAG(std::string, basis_file, "",
          "answer-summary: your agency's own legal basis for answering, a "
          "liaison.v1.LegalBasis in text format (e.g. your override).");
ABSL_FLAG(std::string, checklist_file, "",
          "answer-summary: your pre-sharing checklist, a "
          "liaison.v1.PreSharingChecklist in text format (required of "
          "health by the default policy).");
ABSL_FLAG(std::string, outcome, "", "referral close: the outcome.");
ABSL_FLAG(std::string, feedback_duty, "",
          "referral moves: the statutory duty (its id in the agreement) on "
          "which the sender is told of the change; default: the consent the "
          "referral was sent under.");

namespace {

using liaison::client::FromGrpcStatus;
namespace v1 = liaison::v1;

constexpr char kUsage[] = R"(liaison: talk to a Liaison broker over mutual TLS.

Usage: liaison [connection flags] COMMAND [arguments] [command flags]

Commands:
  whoami          Show who the broker thinks you are.
  send-referral   Send a referral written in a file.
  inbox           Show your agency's inbox, or follow it and acknowledge.
  ack             Acknowledge one inbox message.
  push-summary    Share a summary with the agencies attached to a case.
  request-summary Ask another agency for a summary about a person.
  answer-summary  Answer a summary request your agency received.
  referral        Show a referral, or move one you received through its
                  lifecycle: show, ack, accept, decline, info, close.
  manual-disclosure
                  Record a disclosure your agency made outside Liaison.
  consent         Record a consent or a refusal, withdraw one, or show one:
                  record, refuse, withdraw, show.
  audit           For auditors: query, export and prove the disclosure log,
                  subject access reports, override reviews.
  admin           For administrators: agencies, certificate bindings, routes,
                  reloads, broker status.
  help            Show help for a command: liaison help inbox

Connection flags (each also read from the environment):
  --broker=HOST:PORT   broker address (LIAISON_BROKER, default 127.0.0.1:7443)
  --cert=FILE          your certificate (LIAISON_CERT)
  --key=FILE           your private key (LIAISON_KEY)
  --ca=FILE            the deployment CA certificate (LIAISON_CA)
  --server_name=NAME   name on the broker's certificate, if not the host
  --timeout_seconds=N  deadline for each call (default 10)

The professional acting inside your agency, recorded with every call:
  --professional_id=ID      e.g. a staff number (LIAISON_PROFESSIONAL_ID)
  --professional_role=ROLE  e.g. "school nurse" (LIAISON_PROFESSIONAL_ROLE)

Exit status: 0 on success, 1 when the broker or a file refused, 2 on a usage
error.
)";

using liaison::cli::Command;
using liaison::cli::Connect;
using liaison::cli::Fail;
using liaison::cli::Invocation;
using liaison::cli::Prepare;
using liaison::cli::Unary;
using liaison::cli::Usage;

int RunWhoAmI(const Invocation& in) {
  if (!in.args.empty()) {
    return Usage("whoami",
                 absl::StrCat("unexpected argument \"", in.args[0], "\""));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Identity::NewStub(*channel);
  // The broker's certificate, as this connection saw it, is shown too, so
  // an operator can tell which one a rotation left in force.
  std::string broker_serial;
  absl::StatusOr<v1::WhoAmIResponse> response = Unary<v1::WhoAmIResponse>(
      in, [&](grpc::ClientContext* c, v1::WhoAmIResponse* r) {
        grpc::Status s = stub->WhoAmI(c, v1::WhoAmIRequest(), r);
        broker_serial = liaison::client::PeerCertificateSerial(*c);
        return s;
      });
  if (!response.ok()) return Fail(response.status());
  const v1::Principal& p = response->principal();
  std::cout << "principal:    " << p.uri() << "\n"
            << "kind:         " << liaison::KindName(p.kind()) << "\n"
            << "id:           " << p.id() << "\n";
  if (!p.sector().empty()) std::cout << "sector:       " << p.sector() << "\n";
  if (!p.display_name().empty()) {
    std::cout << "name:         " << p.display_name() << "\n";
  }
  if (!p.jurisdiction().empty()) {
    std::cout << (p.kind() == v1::PRINCIPAL_KIND_AUDITOR ? "scope:        "
                                                         : "jurisdiction: ")
              << p.jurisdiction() << "\n";
  }
  std::cout << "certificate:  serial " << p.certificate_serial()
            << ", valid until "
            << liaison::client::Rfc3339(p.certificate_not_after().seconds())
            << "\n"
            << "broker:       liaison-broker " << response->broker_version()
            << " at " << in.connection.address
            << (broker_serial.empty() ? ""
                                      : ", certificate serial " + broker_serial)
            << std::endl;
  return 0;
}

// Reads a request file of `command`; on failure prints why and returns the
// exit status in `*exit_code`. Returns the SHA-256 of the file.
std::optional<std::string> ReadFileFor(const std::string& path,
                                       google::protobuf::Message* request,
                                       int* exit_code) {
  absl::StatusOr<std::string> sha =
      liaison::ReadRequestFile(path, request);
  if (sha.ok()) return *std::move(sha);
  if (sha.status().code() != absl::StatusCode::kInvalidArgument) {
    *exit_code = Fail(sha.status());
  } else {
    std::cerr << sha.status().message() << std::endl;
    *exit_code = 1;
  }
  return std::nullopt;
}

// Sets `*key`: --idempotency_key if given, else the file's own key, else
// the file's SHA-256, so sending the same file again is a safe retry.
// Returns where the key came from, for the user.
std::string ChooseKey(std::string* key, const std::string& file_sha,
                      const std::string& path) {
  if (const std::string flag = absl::GetFlag(FLAGS_idempotency_key);
      !flag.empty()) {
    const bool replaced = !key->empty() && *key != flag;
    *key = flag;
    return replaced ? "from --idempotency_key, instead of the file's"
                    : "from --idempotency_key";
  }
  if (!key->empty()) return "from the file";
  *key = file_sha;
  return absl::StrCat("derived: SHA-256 of ", path,
                      ", so sending it again is a safe retry");
}

// Reads the request in the command's one FILE, sets its idempotency key
// (ChooseKey) and calls `method`. On any failure prints why and returns the
// exit status; on success fills `*response` and says in `*key_source`
// where the key came from.
template <typename Request, typename Response>
std::optional<int> CallWithFile(
    const Invocation& in, Request* request, Response* response,
    std::string* key_source,
    grpc::Status (v1::Exchange::Stub::*method)(grpc::ClientContext*,
                                               const Request&, Response*)) {
  if (in.args.size() != 1) return Usage(in.command, "give exactly one FILE");
  const std::string& path = in.args[0];
  int exit_code = 0;
  std::optional<std::string> sha = ReadFileFor(path, request, &exit_code);
  if (!sha) return exit_code;
  *key_source = ChooseKey(request->mutable_idempotency_key(), *sha, path);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<Response> result =
      Unary<Response>(in, [&](grpc::ClientContext* c, Response* r) {
        return ((*stub).*method)(c, *request, r);
      });
  if (!result.ok()) return Fail(result.status());
  *response = *std::move(result);
  return std::nullopt;
}

int RunSendReferral(const Invocation& in) {
  v1::SendReferralRequest request;
  v1::SendReferralResponse response;
  std::string key_source;
  if (std::optional<int> failed =
          CallWithFile(in, &request, &response, &key_source,
                       &v1::Exchange::Stub::SendReferral)) {
    return *failed;
  }
  const v1::SendReferralResponse* sent = &response;
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << "referral:        " << sent->referral_id() << "\n"
            << "case:            " << sent->case_id()
            << (request.case_id().empty() ? " (opened)" : "") << "\n"
            << "recipient:       " << sent->recipient_agency_id() << "\n"
            << "level:           " << liaison::client::LevelName(sent->level())
            << "\n"
            << "log sequence:    " << sent->log_sequence() << "\n"
            << "policy version:  " << sent->policy_version() << std::endl;
  return 0;
}

int RunPushSummary(const Invocation& in) {
  v1::PushSummaryRequest request;
  v1::PushSummaryResponse response;
  std::string key_source;
  if (std::optional<int> failed =
          CallWithFile(in, &request, &response, &key_source,
                       &v1::Exchange::Stub::PushSummary)) {
    return *failed;
  }
  const v1::PushSummaryResponse* pushed = &response;
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << "summary:         " << pushed->summary_id() << "\n"
            << "case:            " << request.case_id() << "\n";
  if (pushed->deliveries().empty()) {
    std::cout << "deliveries:      none: no other agency is attached to the "
                 "case\n";
  }
  for (const auto& d : pushed->deliveries()) {
    std::cout << "  " << d.agency_id() << ": "
              << (d.level() == v1::LEVEL_NONE
                      ? absl::StrCat("not sent: ", d.reason())
                      : absl::StrCat("sent at ",
                                     liaison::client::LevelName(d.level())))
              << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int RunRequestSummary(const Invocation& in) {
  v1::RequestSummaryRequest request;
  v1::RequestSummaryResponse response;
  std::string key_source;
  if (std::optional<int> failed =
          CallWithFile(in, &request, &response, &key_source,
                       &v1::Exchange::Stub::RequestSummary)) {
    return *failed;
  }
  const v1::RequestSummaryResponse* asked = &response;
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << "request:         " << asked->request_id() << "\n"
            << "holder:          " << asked->holder_agency_id() << "\n"
            << "The answer arrives in your inbox as a summary naming this "
               "request."
            << std::endl;
  return 0;
}

int RunAnswerSummary(const Invocation& in) {
  if (in.args.size() != 2) {
    return Usage("answer-summary", "give REQUEST_ID and one FILE");
  }
  v1::AnswerSummaryRequestRequest request;
  request.set_request_id(in.args[0]);
  int exit_code = 0;
  if (!ReadFileFor(in.args[1], request.mutable_record(), &exit_code)) {
    return exit_code;
  }
  if (const std::string basis = absl::GetFlag(FLAGS_basis_file);
      !basis.empty() &&
      !ReadFileFor(basis, request.mutable_basis(), &exit_code)) {
    return exit_code;
  }
  if (const std::string checklist = absl::GetFlag(FLAGS_checklist_file);
      !checklist.empty() &&
      !ReadFileFor(checklist, request.mutable_checklist(), &exit_code)) {
    return exit_code;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::AnswerSummaryRequestResponse> answered =
      Unary<v1::AnswerSummaryRequestResponse>(
          in, [&](grpc::ClientContext* c, v1::AnswerSummaryRequestResponse* r) {
            return stub->AnswerSummaryRequest(c, request, r);
          });
  if (!answered.ok()) return Fail(answered.status());
  std::cout << "request:  " << request.request_id() << " answered\n"
            << "level:    " << liaison::client::LevelName(answered->level())
            << " (what the requester receives)" << std::endl;
  return 0;
}

// Cancels a call when nothing has happened on it for a while. The wait runs
// on its own thread; TryCancel is safe from any thread.
class IdleCancel {
 public:
  IdleCancel(grpc::ClientContext* context, absl::Duration first_wait)
      : context_(context), deadline_(absl::Now() + first_wait) {
    thread_ = std::thread([this] { Watch(); });
  }
  ~IdleCancel() { Stop(); }

  // Something happened: cancel only after `wait` more of nothing. False
  // when the call was already cancelled.
  bool Extend(absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    deadline_ = absl::Now() + wait;
    return !fired_;
  }

  // Stops watching; true when the call was cancelled for being idle.
  bool Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
    }
    if (thread_.joinable()) thread_.join();
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  // Waits for the deadline; wakes early when stopped or when Extend moves
  // the deadline, and then waits for the new one.
  void Watch() {
    absl::MutexLock lock(&mu_);
    while (!stopped_) {
      waiting_for_ = deadline_;
      const bool woken = mu_.AwaitWithDeadline(
          absl::Condition(
              +[](IdleCancel* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return self->stopped_ || self->deadline_ != self->waiting_for_;
              },
              this),
          waiting_for_);
      if (!woken && absl::Now() >= deadline_) {
        fired_ = true;
        context_->TryCancel();
        return;
      }
    }
  }

  grpc::ClientContext* const context_;
  std::thread thread_;
  absl::Mutex mu_;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time waiting_for_ ABSL_GUARDED_BY(mu_);
};

// Turns Ctrl-C (SIGINT) and SIGTERM into a call to `on_interrupt` on a
// thread of its own, so that a stream can be cancelled cleanly. Construct it
// before any other thread starts (before the first channel is opened):
// threads inherit the blocked signals, and only this one waits for them.
class InterruptWatch {
 public:
  explicit InterruptWatch(std::function<void()> on_interrupt)
      : on_interrupt_(std::move(on_interrupt)) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] { Watch(); });
  }
  ~InterruptWatch() {
    stopped_ = true;
    thread_.join();
  }

  bool interrupted() const { return interrupted_; }

 private:
  void Watch() {
    const timespec tick = {0, 200 * 1000 * 1000};
    while (!stopped_) {
      if (sigtimedwait(&signals_, nullptr, &tick) > 0) {
        interrupted_ = true;
        on_interrupt_();
        return;
      }
    }
  }

  const std::function<void()> on_interrupt_;
  sigset_t signals_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

// Without --follow: what is pending now, unacknowledged.
int ShowInbox(const Invocation& in, v1::Exchange::Stub* stub,
              const v1::ReceiveRequest& request) {
  // The stream never ends by itself: it is cancelled once no message has
  // come for a second. Opening it (which waits for the connection) may take
  // up to the call timeout.
  constexpr absl::Duration kQuiet = absl::Seconds(1);
  grpc::ClientContext context;
  Prepare(&context, in, /*deadline=*/false);
  IdleCancel idle(&context, in.timeout);
  std::unique_ptr<grpc::ClientReader<v1::InboxMessage>> reader =
      stub->Receive(&context, request);
  const bool opened = idle.Extend(kQuiet);
  std::set<std::string> shown;
  v1::InboxMessage message;
  absl::Time first_lease_end = absl::InfiniteFuture();
  bool everything_shown = false;
  while (reader->Read(&message)) {
    // A message coming again means its lease ended while listing: every
    // pending message has been shown.
    if (!shown.insert(message.message_id()).second) {
      everything_shown = true;
      break;
    }
    first_lease_end =
        std::min(first_lease_end,
                 absl::FromUnixSeconds(message.lease_expires_at().seconds()));
    std::cout << (shown.size() > 1 ? "\n" : "")
              << liaison::client::DescribeInboxMessage(message) << std::flush;
    idle.Extend(kQuiet);
  }
  const bool went_quiet = idle.Stop();
  // Cancel only a stream the broker did not end itself, so that a refusal
  // keeps its status.
  if (everything_shown) {
    context.TryCancel();
    while (reader->Read(&message)) {
    }
  }
  const grpc::Status status = reader->Finish();
  if (!opened) {
    return Fail(absl::DeadlineExceededError(
        absl::StrCat("the broker at ", in.connection.address,
                     " did not open the inbox stream within ",
                     absl::FormatDuration(in.timeout))));
  }
  const bool stopped_by_us = went_quiet || everything_shown;
  if (!status.ok() &&
      !(stopped_by_us && status.error_code() == grpc::StatusCode::CANCELLED)) {
    return Fail(FromGrpcStatus(status, in.connection.address));
  }
  if (shown.empty()) {
    std::cout << "(no messages pending)" << std::endl;
  } else {
    std::cout << "\n"
              << shown.size() << (shown.size() == 1 ? " message" : " messages")
              << " shown and not acknowledged: each comes again when its "
                 "lease ends (the first at "
              << liaison::client::Rfc3339(absl::ToUnixSeconds(first_lease_end))
              << "). Acknowledge one with `liaison ack MESSAGE_ID`."
              << std::endl;
  }
  return 0;
}

// With --follow: every message as it comes, acknowledged once printed.
int FollowInbox(const Invocation& in, v1::Exchange::Stub* stub,
                grpc::ClientContext* context, const InterruptWatch& interrupt,
                const v1::ReceiveRequest& request) {
  std::unique_ptr<grpc::ClientReader<v1::InboxMessage>> reader =
      stub->Receive(context, request);
  v1::InboxMessage message;
  int acknowledged = 0;
  while (reader->Read(&message)) {
    std::cout << (acknowledged > 0 ? "\n" : "")
              << liaison::client::DescribeInboxMessage(message) << std::flush;
    v1::AckRequest ack;
    ack.set_message_id(message.message_id());
    absl::StatusOr<v1::AckResponse> done = Unary<v1::AckResponse>(
        in, [&](grpc::ClientContext* c, v1::AckResponse* r) {
          return stub->Ack(c, ack, r);
        });
    if (done.ok()) {
      std::cout << "  acknowledged" << std::endl;
      ++acknowledged;
    } else {
      // It comes again after its lease; the next attempt may succeed.
      std::cerr << "liaison: could not acknowledge " << message.message_id()
                << ": " << absl::StatusCodeToString(done.status().code())
                << ": " << done.status().message() << std::endl;
    }
  }
  const grpc::Status status = reader->Finish();
  if (interrupt.interrupted()) {
    std::cerr << "liaison: stopped; " << acknowledged
              << (acknowledged == 1 ? " message" : " messages")
              << " acknowledged" << std::endl;
    return 0;
  }
  return Fail(FromGrpcStatus(
      status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the broker ended the inbox stream")
                  : status,
      in.connection.address));
}

int RunInbox(const Invocation& in) {
  if (!in.args.empty()) {
    return Usage("inbox",
                 absl::StrCat("unexpected argument \"", in.args[0], "\""));
  }
  const int lease = absl::GetFlag(FLAGS_lease_seconds);
  if (lease < 0) return Usage("inbox", "--lease_seconds cannot be negative");
  v1::ReceiveRequest request;
  request.set_lease_seconds(static_cast<uint32_t>(lease));
  if (!absl::GetFlag(FLAGS_follow)) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
    if (!channel.ok()) return Fail(channel.status());
    auto stub = v1::Exchange::NewStub(*channel);
    return ShowInbox(in, stub.get(), request);
  }
  grpc::ClientContext context;
  Prepare(&context, in, /*deadline=*/false);
  InterruptWatch interrupt([&context] { context.TryCancel(); });
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  return FollowInbox(in, stub.get(), &context, interrupt, request);
}

int RunAck(const Invocation& in) {
  if (in.args.size() != 1) return Usage("ack", "give exactly one MESSAGE_ID");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  v1::AckRequest request;
  request.set_message_id(in.args[0]);
  absl::StatusOr<v1::AckResponse> done = Unary<v1::AckResponse>(
      in, [&](grpc::ClientContext* c, v1::AckResponse* r) {
        return stub->Ack(c, request, r);
      });
  if (!done.ok()) return Fail(done.status());
  std::cout << "acknowledged: " << request.message_id() << std::endl;
  return 0;
}

// `referral` subcommands that change the status: the status they set and
// the flag carrying the detail the broker requires, if any.
struct ReferralMove {
  v1::ReferralStatus status;
  const char* detail_flag;  // nullptr when no detail is needed
};

const std::map<std::string, ReferralMove>& ReferralMoves() {
  static const auto* moves = new std::map<std::string, ReferralMove>{
      {"ack", {v1::REFERRAL_STATUS_ACKNOWLEDGED, nullptr}},
      {"accept", {v1::REFERRAL_STATUS_ACCEPTED, nullptr}},
      {"decline", {v1::REFERRAL_STATUS_DECLINED, "reason"}},
      {"info", {v1::REFERRAL_STATUS_INFO_REQUESTED, "question"}},
      {"close", {v1::REFERRAL_STATUS_CLOSED, "outcome"}},
  };
  return *moves;
}

std::string DetailFlagValue(const std::string& name) {
  if (name == "reason") return absl::GetFlag(FLAGS_reason);
  if (name == "question") return absl::GetFlag(FLAGS_question);
  return absl::GetFlag(FLAGS_outcome);
}

int RunReferral(const Invocation& in) {
  if (in.args.empty()) {
    return Usage("referral",
                 "name a subcommand: show, ack, accept, decline, info or "
                 "close");
  }
  const std::string& sub = in.args[0];
  auto move = ReferralMoves().find(sub);
  if (sub != "show" && move == ReferralMoves().end()) {
    return Usage("referral", absl::StrCat("unknown subcommand \"", sub, "\""));
  }
  if (in.args.size() != 2) {
    return Usage("referral",
                 absl::StrCat("`referral ", sub, "` takes exactly one ID"));
  }
  const std::string detail_flag =
      move == ReferralMoves().end() || move->second.detail_flag == nullptr
          ? ""
          : move->second.detail_flag;
  for (const std::string& flag : in.flags_given) {
    if (flag != detail_flag && !(flag == "feedback_duty" && sub != "show")) {
      return Usage("referral",
                   absl::StrCat("`referral ", sub, "` does not take --", flag));
    }
  }
  std::string detail;
  if (!detail_flag.empty()) {
    detail = DetailFlagValue(detail_flag);
    if (detail.empty()) {
      return Usage("referral", absl::StrCat("`referral ", sub, "` needs --",
                                            detail_flag, "=TEXT"));
    }
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Referral> referral;
  if (sub == "show") {
    v1::GetReferralRequest request;
    request.set_referral_id(in.args[1]);
    referral =
        Unary<v1::Referral>(in, [&](grpc::ClientContext* c, v1::Referral* r) {
          return stub->GetReferral(c, request, r);
        });
  } else {
    v1::UpdateReferralRequest request;
    request.set_referral_id(in.args[1]);
    request.set_status(move->second.status);
    request.set_detail(detail);
    if (const std::string duty = absl::GetFlag(FLAGS_feedback_duty);
        !duty.empty()) {
      request.mutable_basis()->set_statutory_duty(duty);
    }
    referral =
        Unary<v1::Referral>(in, [&](grpc::ClientContext* c, v1::Referral* r) {
          return stub->UpdateReferral(c, request, r);
        });
  }
  if (!referral.ok()) return Fail(referral.status());
  std::cout << liaison::client::DescribeReferral(*referral) << std::flush;
  return 0;
}

// Records the consent in FILE, or with `refuse` a refusal. The file is a
// Consent rather than a request, so the key is chosen as for the other file
// commands but with no key of the file's own.
int RunConsentRecord(const Invocation& in, bool refuse) {
  const std::string& path = in.args[1];
  v1::RecordConsentRequest request;
  int exit_code = 0;
  std::optional<std::string> sha =
      ReadFileFor(path, request.mutable_consent(), &exit_code);
  if (!sha) return exit_code;
  // The subcommand, not a field a reader may overlook, says which is meant:
  // a refusal sent as `record` would block the very sharing the
  // professional meant to allow.
  if (!refuse && request.consent().refused()) {
    return Usage("consent",
                 absl::StrCat(path,
                              " sets refused: true; record a refusal with "
                              "`liaison consent refuse ",
                              path, "`"));
  }
  request.mutable_consent()->set_refused(refuse);
  const std::string key_source =
      ChooseKey(request.mutable_idempotency_key(), *sha, path);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Consent> recorded =
      Unary<v1::Consent>(in, [&](grpc::ClientContext* c, v1::Consent* r) {
        return stub->RecordConsent(c, request, r);
      });
  if (!recorded.ok()) return Fail(recorded.status());
  std::cout << "idempotency key: " << request.idempotency_key() << " ("
            << key_source << ")\n"
            << liaison::client::DescribeConsent(*recorded) << std::flush;
  return 0;
}

int RunConsentWithdraw(const Invocation& in) {
  const std::string reason = absl::GetFlag(FLAGS_reason);
  if (reason.empty()) {
    return Usage("consent", "`consent withdraw` needs --reason=TEXT");
  }
  v1::WithdrawConsentRequest request;
  request.set_consent_id(in.args[1]);
  request.set_reason(reason);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Consent> withdrawn =
      Unary<v1::Consent>(in, [&](grpc::ClientContext* c, v1::Consent* r) {
        return stub->WithdrawConsent(c, request, r);
      });
  if (!withdrawn.ok()) return Fail(withdrawn.status());
  std::cout << liaison::client::DescribeConsent(*withdrawn);
  // Nothing was shared under a refusal, so there is nothing to recall.
  if (withdrawn->refused()) {
    std::cout << "The refusal has ended; sharing between these parties "
                 "needs a new consent or another basis."
              << std::endl;
  } else {
    std::cout << "Recall notices went to every agency that received data "
                 "under this consent, naming the inbox messages to recall."
              << std::endl;
  }
  return 0;
}

int RunConsentShow(const Invocation& in) {
  v1::GetConsentRequest request;
  request.set_consent_id(in.args[1]);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(in);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = v1::Exchange::NewStub(*channel);
  absl::StatusOr<v1::Consent> consent =
      Unary<v1::Consent>(in, [&](grpc::ClientContext* c, v1::Consent* r) {
        return stub->GetConsent(c, request, r);
      });
  if (!consent.ok()) return Fail(consent.status());
  std::cout << liaison::client::DescribeConsent(*consent) << std::flush;
  return 0;
}

// `consent` subcommands, what their one argument is, and the command flag
// each accepts, if any.
struct ConsentSubcommand {
  const char* argument;
  const char* flag;  // nullptr when it takes none
};

const std::map<std::string, ConsentSubcommand>& ConsentSubcommands() {
  static const auto* subcommands = new std::map<std::string, ConsentSubcommand>{
      {"record", {"FILE", "idempotency_key"}},
      {"refuse", {"FILE", "idempotency_key"}},
      {"withdraw", {"CONSENT_ID", "reason"}},
      {"show", {"CONSENT_ID", nullptr}},
  };
  return *subcommands;
}

int RunConsent(const Invocation& in) {
  if (in.args.empty()) {
    return Usage("consent",
                 "name a subcommand: record, refuse, withdraw or show");
  }
  const std::string& sub = in.args[0];
  auto it = ConsentSubcommands().find(sub);
  if (it == ConsentSubcommands().end()) {
    return Usage("consent", absl::StrCat("unknown subcommand \"", sub, "\""));
  }
  const std::string accepted =
      it->second.flag == nullptr ? "" : it->second.flag;
  for (const std::string& flag : in.flags_given) {
    if (flag != accepted) {
      return Usage("consent",
                   absl::StrCat("`consent ", sub, "` does not take --", flag));
    }
  }
  if (in.args.size() != 2) {
    return Usage("consent",
                 absl::StrCat("`consent ", sub, "` takes exactly one ",
                              it->second.argument));
  }
  if (sub == "record" || sub == "refuse") {
    return RunConsentRecord(in, /*refuse=*/sub == "refuse");
  }
  if (sub == "withdraw") return RunConsentWithdraw(in);
  return RunConsentShow(in);
}

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"whoami",
       {R"(liaison whoami: show who the broker thinks you are.

Usage: liaison [connection flags] whoami

Calls Identity.WhoAmI with your certificate and prints the principal the
broker derived from it after checking the CA, the CRL and its registry: kind,
id, sector, registered name, jurisdiction or scope, and the certificate's
serial and expiry. Use it to check a newly installed certificate.

Example:
  liaison --cert=agency-st-olavs.crt --key=agency-st-olavs.key \
          --ca=ca.crt --broker=127.0.0.1:7443 whoami
)",
        {},
        RunWhoAmI}},
      {"send-referral",
       {R"(liaison send-referral: send a referral written in a file.

Usage: liaison [connection flags] send-referral FILE [--idempotency_key=KEY]

FILE is a liaison.v1.SendReferralRequest in protobuf text format (see
proto/liaison/v1/exchange.proto): destination, subject, purpose, concerns,
urgency, requested_action, your full record and the legal basis. The broker
decides the disclosure, reduces the record to the level the recipient may
see, logs the decision and puts the referral in the recipient's inbox.
A file that does not parse is reported as FILE:LINE:COLUMN: message.

The idempotency key is --idempotency_key if given, else the file's
idempotency_key, else the SHA-256 of the file's bytes: sending the same file
again is then a safe retry that returns the first answer, and a changed file
is a new referral. (--key is the connection flag for your private key.)

Prints the referral id, the case (opened or joined), the recipient agency,
the level the recipient sees, the log entry's sequence number and the
version of the policy that decided. A denial is PERMISSION_DENIED with the
reason; it is logged too.

Example file:
  destination { agency_id: "malmo-social" }
  subject { identifier: "20110304-1234" birth_date: "2011-03-04" }
  purpose: "child_welfare"
  concerns: CONCERN_CATEGORY_SCHOOL_ABSENCE
  urgency: URGENCY_WITHIN_24H
  requested_action: "assess the need for family support"
  record { education { school: "Rosengard School" attendance_percent: 61.5 } }
  basis { consent_id: "consent-1" }
)",
        {"idempotency_key"},
        RunSendReferral}},
      {"push-summary",
       {R"(liaison push-summary: share a summary with the agencies on a case.

Usage: liaison [connection flags] push-summary FILE [--idempotency_key=KEY]

FILE is a liaison.v1.PushSummaryRequest in protobuf text format: the case,
the purpose, your full record about the person and the legal basis. The
broker decides and reduces the record separately for every other agency
attached to the case; each agency gets only what policy lets it see, and
a denial for one agency is logged and shown, not an error. The
idempotency key is chosen as for send-referral.

Prints the summary id and, for each attached agency, the level it was sent
at or why it was not sent.

Example file:
  case_id: "case-0123..."
  purpose: "child_welfare"
  record { social_care {
    subject { identifier: "20110412-2389" birth_date: "2011-04-12" }
    concerns: CONCERN_CATEGORY_NEGLECT
    summary_for_sharing: "Family support plan agreed; weekly home visits."
  } }
  basis { consent_id: "consent-1" }
)",
        {"idempotency_key"},
        RunPushSummary}},
      {"request-summary",
       {R"(liaison request-summary: ask another agency for a summary.

Usage: liaison [connection flags] request-summary FILE [--idempotency_key=KEY]

FILE is a liaison.v1.RequestSummaryRequest in protobuf text format: the
holder (an agency id, or a sector and area), the person, optionally the
case, the purpose and the legal basis. The broker decides the request as
the answer will be decided (the holder disclosing to you) and refuses it
when policy would give you nothing; otherwise it is logged and put in the
holder's inbox. The holder's system answers with `answer-summary`, and the
answer reaches your inbox at the level you may see.

Example file:
  holder { agency_id: "malmo-hospital" }
  subject { identifier: "20110412-2389" birth_date: "2011-04-12" }
  case_id: "case-0123..."
  purpose: "child_welfare"
  basis { consent_id: "consent-1" }
)",
        {"idempotency_key"},
        RunRequestSummary}},
      {"answer-summary",
       {R"(liaison answer-summary: answer a summary request your agency received.

Usage: liaison [connection flags] answer-summary REQUEST_ID FILE
           [--basis_file=BASIS_FILE] [--checklist_file=CHECKLIST_FILE]

REQUEST_ID is the "request" shown for a summary request in `liaison inbox`.
FILE is your full record about the person, a liaison.v1.Record in protobuf
text format (see policy/examples/health-record.textproto); it must be about
the person the request names. The broker reduces it to the level the
requester may see, logs the disclosure and delivers it. A request is
answered once; a second answer is FAILED_PRECONDITION.

The answer is decided on the request's basis (a consent or a statutory
duty) unless --basis_file gives your own. A request that cites a risk (an
override) is yours to judge: to answer it under an override, give your own
in BASIS_FILE, a liaison.v1.LegalBasis in text format, with your assessor
and, where the agreement asks for two persons, your approving manager:

  override {
    category: OVERRIDE_CATEGORY_CHILD_PROTECTION
    legal_provision: "OSL 10 kap. 21 §"
    statement: "Why the risk to the child outweighs confidentiality here."
    assessor { id: "c-311" role: "child psychiatrist" }
    approver { id: "md-2" role: "medical director" }
  }

CHECKLIST_FILE is your pre-sharing checklist (a
liaison.v1.PreSharingChecklist in text format), which the policy requires of
some sectors (health, in the default set) wherever their records go:

  concern_verified: true
  person_informed: true
  colleague_or_expert_consulted: true
  manager_approved: true

Prints the level the requester receives.
)",
        {"basis_file", "checklist_file"},
        RunAnswerSummary}},
      {"inbox",
       {R"(liaison inbox: show your agency's inbox.

Usage: liaison [connection flags] inbox [--follow] [--lease_seconds=N]

Without --follow, prints the messages pending now, oldest first, and stops
once none has come for a second. It does not acknowledge them: each is
leased to you for --lease_seconds (default: the broker's, 60 unless
configured) and then delivered again. Acknowledge one with
`liaison ack MESSAGE_ID` once your system has taken it in.

With --follow, keeps the stream open, prints each message as it arrives and
acknowledges it once printed; Ctrl-C stops.

Each message starts with a line "message: ID", then its kind and details,
indented. A referral shows its sender, case, urgency, concerns, requested
action, and the record's level with the fields kept, generalised and
withheld; a referral update shows the new status, who set it and the detail
(reason, question or outcome); a notice shows its kind, the referral or
withdrawn consent it concerns, the message ids it is about (for a consent
recall, the messages to recall) and its text.
)",
        {"follow", "lease_seconds"},
        RunInbox}},
      {"ack",
       {R"(liaison ack: acknowledge one inbox message.

Usage: liaison [connection flags] ack MESSAGE_ID

MESSAGE_ID is the id on a "message:" line of `liaison inbox`. An
acknowledged message is not delivered again; acknowledging a referral moves
it to delivered and tells its sender. Acknowledging twice is harmless.
)",
        {},
        RunAck}},
      {"referral",
       {R"(liaison referral: show a referral or move it through its lifecycle.

Usage: liaison [connection flags] referral SUBCOMMAND ID [flag]

  show ID                      the referral and its history (sender or
                               recipient)
  ack ID                       acknowledged: a professional has taken note;
                               stops escalation
  accept ID                    accepted: your agency will act on it
  decline ID --reason=TEXT     declined, and why
  info ID --question=TEXT      info requested: what you need to know
  close ID --outcome=TEXT      closed, with the outcome

All but show are for the recipient, and take --feedback_duty=ID too. Each
change is made and printed as the referral now is. Telling the sender is a
disclosure decided on the reverse route (purpose referral_feedback) and
logged: under --feedback_duty (a statutory duty the reverse agreement names,
e.g. se-sol-14-1a) or else the consent the referral was sent under, the
sender's inbox gets a referral update at that route's level (SIGNAL: the
status; CATEGORY: also the reason or outcome; SUMMARY: also who acted);
with no basis it allows, the sender is not told of the change. `show` to
the sender shows the history as it was told. A move the lifecycle does not
allow (e.g. accepting a closed referral) is FAILED_PRECONDITION.

Example:
  liaison referral decline ref-1 --reason="no open case; refer to the
    school health service"
)",
        {"reason", "question", "outcome", "feedback_duty"},
        RunReferral}},
      {"manual-disclosure",
       {liaison::cli::kManualDisclosureHelp,
        {"idempotency_key"},
        liaison::cli::RunManualDisclosure}},
      {"consent",
       {R"(liaison consent: record, refuse, withdraw or show a consent.

Usage: liaison [connection flags] consent SUBCOMMAND ARGUMENT [flag]

  record FILE [--idempotency_key=KEY]   record a consent given to your agency
  refuse FILE [--idempotency_key=KEY]   record a refusal
  withdraw CONSENT_ID --reason=TEXT     withdraw a consent, or end a refusal
  show CONSENT_ID                       show a consent

FILE is a liaison.v1.Consent in protobuf text format (see
proto/liaison/v1/exchange.proto, and the example below, which is
policy/examples/consent-guardian.textproto): the grantor, with
grantor_relation for a guardian or legal representative; the subject (a
guardian's consent also needs the birth date); the parties that may
disclose and receive, each a sector, an agency_id or public_authorities:
true (every agency of a sector the policy marks a public authority); the
purposes; max_level; optionally valid_from and valid_until; and the
evidence of how it was given. A file that does not parse is reported as
FILE:LINE:COLUMN: message.

`record` refuses a file that sets refused: true (a usage error). `refuse`
records the same kind of file as a refusal, and max_level may be left out:
consent-based sharing between the parties named, for the purposes named,
is then impossible.

The idempotency key is --idempotency_key if given, else the SHA-256 of the
file's bytes, so recording the same file again is a safe retry that returns
the consent first recorded. Recording and then refusing the very same file
is ALREADY_EXISTS (the same key with another body): change the file or give
--idempotency_key.

A guardian's consent lapses when the subject comes of age, whatever
valid_until says. Withdrawing takes effect at once; the broker sends a
consent recall notice to every agency that received data under the consent,
naming the inbox messages to recall. Any agency that may see a consent may
record its withdrawal; withdrawing it again changes nothing. --reason is
required: why, e.g. "withdrawn by the person in writing".

Each subcommand prints the consent as the broker holds it: id, the agency
that recorded it, consent or refusal, grantor, subject, disclosing parties,
recipients, purposes, max level (consents only), validity, evidence, and
when it was withdrawn. `record` and `refuse` also print the idempotency key;
`withdraw` also says that recall notices went out.

Errors from the broker: INVALID_ARGUMENT for a missing grantor, subject,
birth date (guardian), disclosing, recipients, purposes, evidence
(form_reference, form_version, language) or max_level (consents), an unknown
sector, a missing grantor_relation, or valid_until not after valid_from;
FAILED_PRECONDITION when a guardian consents for a subject who has come of
age; ALREADY_EXISTS for a reused key with another body; NOT_FOUND (withdraw,
show) when no consent has that id or your agency neither recorded it nor is
a party it names (by id, by sector, or as a public authority).

Example file:
  grantor: GRANTOR_GUARDIAN
  grantor_relation: "mother"
  subject { identifier: "201103141234" birth_date: "2011-03-14" }
  disclosing { sector: "education" }
  recipients { sector: "social_care" }
  purposes: "child_welfare"
  purposes: "referral_feedback"
  max_level: LEVEL_SUMMARY
  valid_until { seconds: 1830297600 }
  evidence {
    form_reference: "RS-2026-0142" form_version: "consent-v3" language: "sv"
  }

Example:
  liaison consent record consent-guardian.textproto
  liaison consent withdraw con-1 --reason="withdrawn by the mother in writing"
)",
        {"idempotency_key", "reason"},
        RunConsent}},
      {"audit",
       {liaison::cli::kAuditHelp, liaison::cli::AuditFlags(),
        liaison::cli::RunAudit}},
      {"admin",
       {liaison::cli::kAdminHelp, liaison::cli::AdminFlags(),
        liaison::cli::RunAdmin}},
  };
  return *commands;
}

bool IsHelp(const std::string& arg) {
  return arg == "--help" || arg == "-h" || arg == "help";
}

// The flags named on the command line, without dashes, value or a "no"
// prefix. `unknown` is set to the first argument naming no flag.
std::set<std::string> FlagsGiven(int argc, char** argv, std::string* unknown) {
  std::set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    name = name.substr(0, name.find('='));
    if (absl::FindCommandLineFlag(name) != nullptr) {
      given.insert(name);
    } else if (const absl::CommandLineFlag* flag =
                   name.rfind("no", 0) == 0
                       ? absl::FindCommandLineFlag(name.substr(2))
                       : nullptr;
               flag != nullptr && flag->IsOfType<bool>()) {
      given.insert(name.substr(2));
    } else if (unknown->empty()) {
      *unknown = arg;
    }
  }
  return given;
}

}  // namespace

int main(int argc, char** argv) {
  // Help is answered before flag parsing so it works with any other flags.
  std::string command;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (IsHelp(arg)) {
      help = true;
    } else if (arg[0] != '-' && command.empty()) {
      command = arg;
    }
  }
  if (help) {
    auto it = Commands().find(command);
    std::cout << (it == Commands().end() ? kUsage : it->second.help);
    return 0;
  }
  std::string unknown;
  const std::set<std::string> given = FlagsGiven(argc, argv, &unknown);
  if (!unknown.empty()) {
    std::cerr << "liaison: unknown flag \"" << unknown
              << "\"; run `liaison help`" << std::endl;
    return 2;
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() < 2) {
    std::cerr << kUsage;
    return 2;
  }
  auto it = Commands().find(rest[1]);
  if (it == Commands().end()) {
    std::cerr << "liaison: unknown command \"" << rest[1]
              << "\"; run `liaison help` for the list" << std::endl;
    return 2;
  }
  Invocation in;
  in.command = rest[1];
  in.args.assign(rest.begin() + 2, rest.end());
  std::set<std::string> command_flags;
  for (const auto& [name, c] : Commands()) {
    command_flags.insert(c.flags.begin(), c.flags.end());
  }
  for (const std::string& flag : given) {
    if (command_flags.count(flag) == 0) continue;
    const std::vector<std::string>& accepted = it->second.flags;
    if (std::find(accepted.begin(), accepted.end(), flag) == accepted.end()) {
      return Usage(in.command,
                   absl::StrCat("`", in.command, "` does not take --", flag));
    }
    in.flags_given.insert(flag);
  }
  in.connection.address = absl::GetFlag(FLAGS_broker);
  in.connection.cert_path = absl::GetFlag(FLAGS_cert);
  in.connection.key_path = absl::GetFlag(FLAGS_key);
  in.connection.ca_path = absl::GetFlag(FLAGS_ca);
  in.connection.server_name = absl::GetFlag(FLAGS_server_name);
  in.professional.set_id(absl::GetFlag(FLAGS_professional_id));
  in.professional.set_role(absl::GetFlag(FLAGS_professional_role));
  const double timeout = absl::GetFlag(FLAGS_timeout_seconds);
  if (!(timeout > 0)) {
    std::cerr << "liaison: --timeout_seconds must be positive" << std::endl;
    return 2;
  }
  in.timeout = absl::Seconds(timeout);
  for (const auto& [value, name] :
       {std::pair{&in.connection.cert_path, "--cert"},
        std::pair{&in.connection.key_path, "--key"},
        std::pair{&in.connection.ca_path, "--ca"}}) {
    if (value->empty()) {
      std::cerr << "liaison: " << name
                << " is required (or set the environment variable); see "
                   "`liaison help`"
                << std::endl;
      return 2;
    }
  }
  return it->second.run(in);
}
