// Time-driven work of the message path: expiring unacknowledged messages
// (with non-delivery notices), escalating urgent referrals and override
// reviews that missed their deadline, and purging content whose retention
// ended (DESIGN.md rule 10). RunOnce does one pass at the clock's time, so
// tests drive it with an injected clock; Start runs passes periodically.
#ifndef LIAISON_BROKER_SWEEPER_H_
#define LIAISON_BROKER_SWEEPER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/basics/clock.h"
#include "broker/inbox_waiters.h"
#include "broker/registry.h"
#include "broker/store/store.h"
#include "policy/policy_set.h"

namespace liaison {

class Sweeper {
 public:
  // Every pointer must outlive the sweeper. `notice_ttl` is how long the
  // notices it sends wait to be acknowledged. Content is purged by the
  // retention of `policy` for each agency of `registry`; with either null
  // nothing is purged.
  Sweeper(Store* store, InboxWaiters* waiters, const Clock* clock,
          absl::Duration notice_ttl, const Registry* registry = nullptr,
          const policy::PolicyInForce* policy = nullptr);
  // Stops the periodic thread, if started.
  ~Sweeper();

  // One pass; returns when its changes are committed and the agencies
  // notified, and the purged content scrubbed from the store's files.
  absl::Status RunOnce();

  // Runs a pass every `interval` on a thread of its own.
  void Start(absl::Duration interval);

 private:
  // Purges in batches until nothing more is due; then scrubs when
  // anything was purged.
  absl::Status PurgeDue();

  Store* const store_;
  InboxWaiters* const waiters_;
  const Clock* const clock_;
  const absl::Duration notice_ttl_;
  const Registry* const registry_;
  const policy::PolicyInForce* const policy_;
  // A scrub readers held back, to try again at the next pass.
  bool scrub_owed_ = false;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_SWEEPER_H_
