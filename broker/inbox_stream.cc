#include "broker/inbox_stream.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "broker/basics/time_format.h"
#include "broker/service_support.h"

namespace liaison {
namespace {

// Streams one agency's inbox: leases pending messages from the store,
// writes them one at a time, and when none is left waits to be woken by a
// new message or the end of a lease. At most one store call or write is
// outstanding, and Finish comes only when neither is, so the reactor is
// deleted only when nothing refers to it. gRPC and store calls are made
// outside the lock because either may call back on the same thread.
class InboxStream final : public grpc::ServerWriteReactor<v1::InboxMessage> {
 public:
  // `principal` is the agency as Receive authorised it. `egress` finishes
  // each leased message for the recipient before it is written.
  InboxStream(grpc::CallbackServerContext* ctx, const v1::Principal& principal,
              absl::Duration lease, const Authenticator* auth, Store* store,
              InboxWaiters* waiters, const Clock* clock,
              std::function<void(v1::InboxMessage*)> egress)
      : ctx_(ctx),
        agency_id_(principal.id()),
        serial_(principal.certificate_serial()),
        not_after_(
            absl::FromUnixSeconds(principal.certificate_not_after().seconds())),
        lease_(lease),
        store_(store),
        waiters_(waiters),
        clock_(clock),
        egress_(std::move(egress)),
        waker_(std::make_shared<Waker>(this)) {
    waiters_->Add(agency_id_, serial_, waker_);
    // A registry or CRL change between the authorisation and Add did not
    // see this stream: check again now that it is registered.
    absl::Status still = auth->Recheck(agency_id_, serial_);
    // Woken when the certificate expires, to end the stream then.
    waiters_->WakeAt(waker_, absl::Now() + (not_after_ - clock_->Now()));
    Step step;
    {
      absl::MutexLock lock(&mu_);
      if (!still.ok()) finish_ = ToGrpcStatus(still);
      again_ = true;
      step = NextLocked();
    }
    Run(step);
  }

  void OnWriteDone(bool ok) override {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        if (!finish_) {
          finish_ = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the stream broke while writing");
        }
      } else {
        queue_.pop_front();
      }
      step = NextLocked();
    }
    Run(step);
  }

  void OnCancel() override {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_) finish_ = grpc::Status::CANCELLED;
      step = NextLocked();
    }
    Run(step);
  }

  void OnDone() override {
    waker_->Detach();
    delete this;
  }

 private:
  // The part of the stream the waiters hold; it may outlive the reactor and
  // forwards wake-ups only while the reactor lives.
  class Waker final : public InboxWaiters::Waiter {
   public:
    explicit Waker(InboxStream* stream) : stream_(stream) {}
    void Wake() override {
      absl::MutexLock lock(&mu_);
      if (stream_ != nullptr) stream_->Wake();
    }
    void Close(const absl::Status& why) override {
      absl::MutexLock lock(&mu_);
      if (stream_ != nullptr) stream_->Close(why);
    }
    void Detach() {
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
    }

   private:
    absl::Mutex mu_;
    InboxStream* stream_ ABSL_GUARDED_BY(mu_);
  };

  struct Step {
    enum { kNothing, kFetch, kWrite, kFinish } action = kNothing;
    const v1::InboxMessage* message = nullptr;
    grpc::Status status;
  };

  void Wake() {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      again_ = true;
      step = NextLocked();
    }
    Run(step);
  }

  // Ends the stream with `why` as soon as no write or fetch is outstanding;
  // messages leased but not written are delivered again after the lease.
  void Close(const absl::Status& why) {
    Step step;
    bool stalled = false;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_) finish_ = ToGrpcStatus(why);
      // A write the client does not read would hold the stream open.
      stalled = writing_;
      step = NextLocked();
    }
    if (stalled) ctx_->TryCancel();
    Run(step);
  }

  // Decides what to do after any event: write, fetch, finish or wait.
  Step NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Step step;
    if (fetching_ || writing_ || finished_) return step;
    if (!finish_ && clock_->Now() >= not_after_) {
      finish_ =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                       absl::StrCat("certificate serial ", serial_,
                                    " expired on ", Rfc3339(not_after_),
                                    "; ask your administrator to renew it"));
    }
    if (finish_) {
      finished_ = true;
      step.action = Step::kFinish;
      step.status = *finish_;
    } else if (!queue_.empty()) {
      writing_ = true;
      step.action = Step::kWrite;
      step.message = &queue_.front();
    } else if (again_) {
      // Look again only after a wake-up or a full batch; an empty look
      // waits for the next wake-up.
      fetching_ = true;
      again_ = false;
      step.action = Step::kFetch;
    }
    return step;
  }

  void Run(const Step& step) {
    switch (step.action) {
      case Step::kNothing:
        return;
      case Step::kWrite:
        StartWrite(step.message);
        return;
      case Step::kFinish:
        Finish(step.status);
        return;
      case Step::kFetch:
        break;
    }
    store_->LeaseInbox(
        agency_id_, clock_->Now(), lease_, static_cast<int>(kBatch),
        [this](absl::StatusOr<InboxLease> lease) {
          Step next;
          {
            absl::MutexLock lock(&mu_);
            fetching_ = false;
            if (!lease.ok()) {
              if (!finish_) finish_ = ToGrpcStatus(lease.status());
            } else {
              if (lease->messages.size() == kBatch) again_ = true;
              for (v1::InboxMessage& m : lease->messages) {
                egress_(&m);
                queue_.push_back(std::move(m));
              }
              if (lease->next_lease_end != absl::InfiniteFuture()) {
                waiters_->WakeAt(waker_, absl::Now() + (lease->next_lease_end -
                                                        clock_->Now()));
              }
            }
            next = NextLocked();
          }
          Run(next);
        });
  }

  static constexpr size_t kBatch = 16;

  grpc::CallbackServerContext* const ctx_;
  const std::string agency_id_;
  const std::string serial_;
  const absl::Time not_after_;
  const absl::Duration lease_;
  Store* const store_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const std::function<void(v1::InboxMessage*)> egress_;
  const std::shared_ptr<Waker> waker_;

  absl::Mutex mu_;
  std::deque<v1::InboxMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerWriteReactor<v1::InboxMessage>* NewInboxStream(
    grpc::CallbackServerContext* ctx, const v1::Principal& principal,
    absl::Duration lease, const Authenticator* auth, Store* store,
    InboxWaiters* waiters, const Clock* clock,
    std::function<void(v1::InboxMessage*)> egress) {
  return new InboxStream(ctx, principal, lease, auth, store, waiters, clock,
                         std::move(egress));
}

}  // namespace liaison
