#include "broker/inbox_stream.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "broker/basics/time_format.h"
#include "broker/request_shape.h"
#include "broker/service_support.h"

namespace liaison {
namespace {

void Put(std::deque<v1::InboxMessage>* queue, v1::InboxMessage message) {
  queue->push_back(std::move(message));
}
void Put(std::deque<v1::DeliverResponse>* queue, v1::InboxMessage message) {
  queue->emplace_back();
  *queue->back().mutable_message() = std::move(message);
}

// Streams one agency's inbox, for Receive (Out: InboxMessage) and Deliver
// (Out: DeliverResponse): leases pending messages from the store, writes
// them one at a time, and when none is left waits to be woken by a new
// message or the end of a lease. At most one lease or write is
// outstanding, and Finish comes only when neither is (nor anything a
// subclass holds, BusyLocked), so the reactor is deleted only when nothing
// refers to it. gRPC and store calls are made outside the lock because
// either may call back on the same thread.
template <typename Reactor, typename Out>
class InboxFeed : public Reactor {
 public:
  // `principal` is the agency as the call authorised it. `egress` finishes
  // each leased message for the recipient before it is written. Nothing is
  // leased before StartFeeding.
  InboxFeed(grpc::CallbackServerContext* ctx, const v1::Principal& principal,
            const Authenticator* auth, Store* store, InboxWaiters* waiters,
            const Clock* clock, std::function<void(v1::InboxMessage*)> egress)
      : ctx_(ctx),
        agency_id_(principal.id()),
        serial_(principal.certificate_serial()),
        not_after_(
            absl::FromUnixSeconds(principal.certificate_not_after().seconds())),
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
    if (!still.ok()) {
      absl::MutexLock lock(&mu_);
      finish_ = ToGrpcStatus(still);
    }
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

 protected:
  struct Step;
  // Leases for `lease` from now on, or ends the stream as Close does.
  void StartFeeding(absl::Duration lease) {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      lease_ = lease;
      again_ = true;
      step = NextLocked();
    }
    Run(step);
  }

  // What a subclass holds that Finish must wait for.
  virtual bool BusyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return false;
  }
  // Runs whatever the state now calls for, after a subclass changed it.
  void Kick() {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      step = NextLocked();
    }
    Run(step);
  }
  // Whether to lease more now; also a subclass's chance to end the stream
  // (by setting finish_) once its work is done.
  virtual bool MayLeaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return true;
  }
  // The part of the stream the waiters hold; it may outlive the reactor and
  // forwards wake-ups only while the reactor lives.
  class Waker final : public InboxWaiters::Waiter {
   public:
    explicit Waker(InboxFeed* stream) : stream_(stream) {}
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
    InboxFeed* stream_ ABSL_GUARDED_BY(mu_);
  };

  struct Step {
    enum { kNothing, kFetch, kWrite, kFinish } action = kNothing;
    const Out* message = nullptr;
    absl::Duration lease;
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
    const bool may_lease = MayLeaseLocked();
    if (!finish_ && clock_->Now() >= not_after_) {
      finish_ =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                       absl::StrCat("certificate serial ", serial_,
                                    " expired on ", Rfc3339(not_after_),
                                    "; ask your administrator to renew it"));
    }
    if (finish_) {
      if (BusyLocked()) return step;
      finished_ = true;
      step.action = Step::kFinish;
      step.status = *finish_;
    } else if (!queue_.empty()) {
      writing_ = true;
      step.action = Step::kWrite;
      step.message = &queue_.front();
    } else if (again_ && may_lease) {
      // Look again only after a wake-up or a full batch; an empty look
      // waits for the next wake-up.
      fetching_ = true;
      again_ = false;
      step.action = Step::kFetch;
      step.lease = lease_;
    }
    return step;
  }

  void Run(const Step& step) {
    switch (step.action) {
      case Step::kNothing:
        return;
      case Step::kWrite:
        this->StartWrite(step.message);
        return;
      case Step::kFinish:
        this->Finish(step.status);
        return;
      case Step::kFetch:
        break;
    }
    store_->LeaseInbox(
        agency_id_, clock_->Now(), step.lease, static_cast<int>(kBatch),
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
                Put(&queue_, std::move(m));
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
  Store* const store_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const std::function<void(v1::InboxMessage*)> egress_;
  const std::shared_ptr<Waker> waker_;

  absl::Mutex mu_;
  absl::Duration lease_ ABSL_GUARDED_BY(mu_);
  std::deque<Out> queue_ ABSL_GUARDED_BY(mu_);
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
};

// Receive: the inbox, leased for `lease` from the start.
class InboxStream final
    : public InboxFeed<grpc::ServerWriteReactor<v1::InboxMessage>,
                       v1::InboxMessage> {
 public:
  InboxStream(grpc::CallbackServerContext* ctx, const v1::Principal& principal,
              absl::Duration lease, const Authenticator* auth, Store* store,
              InboxWaiters* waiters, const Clock* clock,
              std::function<void(v1::InboxMessage*)> egress)
      : InboxFeed(ctx, principal, auth, store, waiters, clock,
                  std::move(egress)) {
    StartFeeding(lease);
  }
};

// Deliver: the inbox as Receive streams it, and acknowledgements read from
// the same stream. Each request's acknowledgements go to the store at once
// (they commit together when they share a group) and are answered by one
// AcknowledgedMessages when all are durable. Reading pauses while
// kMaxBatches requests' acknowledgements are outstanding, so a caller
// cannot queue without bound. One read at a time; a read being started
// holds Finish back (BusyLocked), as do acknowledgements outstanding,
// whose callbacks refer to the stream.
class DeliverStream final
    : public InboxFeed<
          grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>,
          v1::DeliverResponse> {
 public:
  DeliverStream(grpc::CallbackServerContext* ctx,
                const v1::Principal& principal, DeliverLeases leases,
                const Authenticator* auth, Store* store, InboxWaiters* waiters,
                const Clock* clock,
                std::function<void(v1::InboxMessage*)> egress,
                Acknowledger acknowledge)
      : InboxFeed(ctx, principal, auth, store, waiters, clock,
                  std::move(egress)),
        leases_(leases),
        acknowledge_(std::move(acknowledge)) {
    {
      absl::MutexLock lock(&mu_);
      starting_read_ = true;
    }
    StartReading();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The caller closed its side, or the call ended.
      {
        absl::MutexLock lock(&mu_);
        closed_ = true;
      }
      Kick();
      return;
    }
    std::vector<std::string> ids(request_.ack_message_ids().begin(),
                                 request_.ack_message_ids().end());
    const uint32_t lease_seconds = request_.lease_seconds();
    const absl::Status shape = CheckRequestShape(request_);
    bool start_feeding = false;
    absl::Duration lease;
    bool read_again = false;
    bool accepted = false;
    {
      absl::MutexLock lock(&mu_);
      const bool first = !opened_;
      opened_ = true;
      if (finish_) {
        // Ending already: nothing more is read or acknowledged.
      } else if (!shape.ok()) {
        finish_ = ToGrpcStatus(shape);
      } else if (!first && lease_seconds != 0) {
        finish_ = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "lease_seconds is set once, in the stream's "
                               "first request; this request set it again");
      } else if (first && absl::Seconds(lease_seconds) > leases_.max) {
        finish_ = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               absl::StrCat("lease_seconds may be at most ",
                                            absl::ToInt64Seconds(leases_.max)));
      } else if (ids.size() > kMaxIdsPerRequest) {
        finish_ = grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("a request acknowledges at most ", kMaxIdsPerRequest,
                         " messages; this one named ", ids.size()));
      } else {
        if (first) {
          start_feeding = true;
          lease = lease_seconds == 0 ? leases_.default_lease
                                     : absl::Seconds(lease_seconds);
        }
        accepted = true;
        if (!ids.empty()) ++batches_;
        read_again = batches_ < kMaxBatches;
        paused_ = !read_again;
      }
      starting_read_ = read_again;
    }
    if (accepted && !ids.empty()) Acknowledge(std::move(ids));
    if (start_feeding) StartFeeding(lease);
    if (read_again) {
      StartReading();
    } else {
      Kick();
    }
  }

 private:
  static constexpr size_t kMaxIdsPerRequest = 1000;
  static constexpr int kMaxBatches = 16;

  bool BusyLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return starting_read_ || batches_ > 0;
  }
  bool MayLeaseLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!closed_) return opened_;
    // Closed by the caller: once its acknowledgements are answered and
    // written, the stream ends with OK. Leased messages not yet written
    // are delivered again after their lease.
    if (!finish_ && batches_ == 0 && !HasAnswersLocked()) {
      finish_ = grpc::Status::OK;
    }
    return false;
  }
  bool HasAnswersLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const v1::DeliverResponse& r : queue_) {
      if (r.has_acknowledged()) return true;
    }
    return false;
  }

  // Starts the next read; starting_read_ is set. A Finish that came
  // meanwhile waited for this.
  void StartReading() {
    StartRead(&request_);
    {
      absl::MutexLock lock(&mu_);
      starting_read_ = false;
    }
    Kick();
  }

  void Acknowledge(std::vector<std::string> ids) {
    struct Batch {
      absl::Mutex mu;
      size_t left;
      v1::AcknowledgedMessages answer;
    };
    auto batch = std::make_shared<Batch>();
    batch->left = ids.size();
    for (const std::string& id : ids) {
      acknowledge_(id, [this, batch, id](absl::Status s) {
        {
          absl::MutexLock lock(&batch->mu);
          if (s.ok()) {
            batch->answer.add_message_ids(id);
          } else {
            v1::RefusedAcknowledgement* refused = batch->answer.add_refused();
            refused->set_message_id(id);
            refused->set_code(static_cast<int32_t>(s.code()));
            refused->set_reason(std::string(s.message()));
          }
          if (--batch->left > 0) return;
        }
        Answered(std::move(batch->answer));
      });
    }
  }

  // The last acknowledgement of a batch is durable (or refused).
  void Answered(v1::AcknowledgedMessages answer) {
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      queue_.emplace_back();
      *queue_.back().mutable_acknowledged() = std::move(answer);
      --batches_;
      if (paused_ && !finish_ && !closed_) {
        paused_ = false;
        starting_read_ = true;
        resume = true;
      }
    }
    if (resume) {
      StartReading();
    } else {
      Kick();
    }
  }

  const DeliverLeases leases_;
  const Acknowledger acknowledge_;
  // Touched by gRPC between StartRead and OnReadDone only.
  v1::DeliverRequest request_;
  bool opened_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool starting_read_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  // Requests whose acknowledgements are not all answered yet.
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
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

grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>*
NewDeliverStream(grpc::CallbackServerContext* ctx,
                 const v1::Principal& principal, DeliverLeases leases,
                 const Authenticator* auth, Store* store, InboxWaiters* waiters,
                 const Clock* clock,
                 std::function<void(v1::InboxMessage*)> egress,
                 Acknowledger acknowledge) {
  return new DeliverStream(ctx, principal, leases, auth, store, waiters, clock,
                           std::move(egress), std::move(acknowledge));
}

}  // namespace liaison
