// Time-driven work of the message path: expiring unacknowledged messages
// (with non-delivery notices) and escalating urgent referrals that missed
// their deadline. RunOnce does one pass at the clock's time, so tests drive
// it with an injected clock; Start runs passes periodically.
#ifndef LIAISON_BROKER_SWEEPER_H_
#define LIAISON_BROKER_SWEEPER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/basics/clock.h"
#include "broker/inbox_waiters.h"
#include "broker/store/store.h"

namespace liaison {

class Sweeper {
 public:
  // Every pointer must outlive the sweeper. `notice_ttl` is how long the
  // notices it sends wait to be acknowledged.
  Sweeper(Store* store, InboxWaiters* waiters, const Clock* clock,
          absl::Duration notice_ttl);
  // Stops the periodic thread, if started.
  ~Sweeper();

  // One pass; returns when its changes are committed and the agencies
  // notified.
  absl::Status RunOnce();

  // Runs a pass every `interval` on a thread of its own.
  void Start(absl::Duration interval);

 private:
  Store* const store_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const absl::Duration notice_ttl_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_SWEEPER_H_
