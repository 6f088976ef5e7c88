#include "clients/inbox_commands.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clients/exchange_text.h"
#include "liaison/v1/exchange.grpc.pb.h"

ABSL_DECLARE_FLAG(bool, follow);
ABSL_DECLARE_FLAG(int, lease_seconds);

namespace liaison::cli {
namespace {

using client::FromGrpcStatus;

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

// With --follow: every message as it comes, acknowledged on the same
// Deliver stream once printed, and said so once the broker has it durable.
int FollowInbox(const Invocation& in, v1::Exchange::Stub* stub,
                grpc::ClientContext* context, const InterruptWatch& interrupt,
                uint32_t lease_seconds) {
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::DeliverRequest, v1::DeliverResponse>>
      stream = stub->Deliver(context);
  v1::DeliverRequest open;
  open.set_lease_seconds(lease_seconds);
  stream->Write(open);
  v1::DeliverResponse response;
  int shown = 0;
  int acknowledged = 0;
  while (stream->Read(&response)) {
    if (response.has_message()) {
      const v1::InboxMessage& message = response.message();
      std::cout << (shown > 0 ? "\n" : "")
                << liaison::client::DescribeInboxMessage(message) << std::flush;
      ++shown;
      v1::DeliverRequest ack;
      ack.add_ack_message_ids(message.message_id());
      if (!stream->Write(ack)) break;
      continue;
    }
    for (const std::string& id : response.acknowledged().message_ids()) {
      std::cout << "  acknowledged " << id << std::endl;
      ++acknowledged;
    }
    for (const v1::RefusedAcknowledgement& refused :
         response.acknowledged().refused()) {
      // It comes again after its lease; the next attempt may succeed.
      std::cerr << "liaison: could not acknowledge " << refused.message_id()
                << ": "
                << absl::StatusCodeToString(
                       static_cast<absl::StatusCode>(refused.code()))
                << ": " << refused.reason() << std::endl;
    }
  }
  const grpc::Status status = stream->Finish();
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

}  // namespace

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
  return FollowInbox(in, stub.get(), &context, interrupt,
                     static_cast<uint32_t>(lease));
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

}  // namespace liaison::cli
