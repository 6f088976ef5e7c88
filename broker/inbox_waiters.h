// Wakes the Receive streams of an agency when its inbox gains a message or
// when a lease it holds runs out, so streams never poll the store; knows
// which agencies have a stream open, and ends the streams whose
// certificate is no longer accepted (agency suspended, serial unbound or
// revoked).
#ifndef LIAISON_BROKER_INBOX_WAITERS_H_
#define LIAISON_BROKER_INBOX_WAITERS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace liaison {

class InboxWaiters {
 public:
  // Something to wake; Wake must not block.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    virtual void Wake() = 0;
    // Ends the stream with `why`; must not block.
    virtual void Close(const absl::Status& why) = 0;
  };
  // Whether the stream of `agency_id` authenticated with certificate
  // `serial` may go on: OK, or the status to end it with.
  using Check = std::function<absl::Status(const std::string& agency_id,
                                           const std::string& serial)>;

  InboxWaiters();
  // Stops the timer thread; pending wake-ups are dropped.
  ~InboxWaiters();

  // Registers `waiter` for `agency_id`, whose certificate has `serial`,
  // until it is destroyed; only a weak reference is kept.
  void Add(const std::string& agency_id, const std::string& serial,
           const std::shared_ptr<Waiter>& waiter);
  // Wakes every live waiter of `agency_id`.
  void Notify(const std::string& agency_id);
  // Wakes `waiter` at `when` (real time), if it still lives then.
  void WakeAt(const std::weak_ptr<Waiter>& waiter, absl::Time when);
  // Closes every live waiter that `check` refuses, with its status; returns
  // how many were closed.
  int CloseRefused(const Check& check);
  // Ids of the agencies with at least one live waiter, sorted.
  std::vector<std::string> Connected();

 private:
  void TimerLoop();
  // True when the timer thread must stop waiting: stopping, or a wake-up
  // earlier than the one it waits for was added.
  bool Interrupted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  struct Entry {
    std::weak_ptr<Waiter> waiter;
    std::string serial;
  };
  absl::flat_hash_map<std::string, std::vector<Entry>> waiters_
      ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::weak_ptr<Waiter>> timers_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time wait_until_ ABSL_GUARDED_BY(mu_);
  std::thread timer_thread_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_INBOX_WAITERS_H_
