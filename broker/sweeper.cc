#include "broker/sweeper.h"

#include <iostream>

#include "absl/synchronization/notification.h"

namespace liaison {
namespace {

// Most messages or referrals handled per store operation, so one pass never
// holds the commit thread for long.
constexpr int kBatch = 500;

}  // namespace

Sweeper::Sweeper(Store* store, InboxWaiters* waiters, const Clock* clock,
                 absl::Duration notice_ttl)
    : store_(store),
      waiters_(waiters),
      clock_(clock),
      notice_ttl_(notice_ttl) {}

Sweeper::~Sweeper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status Sweeper::RunOnce() {
  using Step = void (Store::*)(absl::Time, absl::Duration, int,
                               StoreDone<std::vector<std::string>>);
  for (Step step : {static_cast<Step>(&Store::ExpireInbox),
                    static_cast<Step>(&Store::EscalateOverdue),
                    static_cast<Step>(&Store::EscalateOverdueReviews)}) {
    for (;;) {
      absl::Notification finished;
      absl::StatusOr<std::vector<std::string>> told;
      (store_->*step)(clock_->Now(), notice_ttl_, kBatch,
                      [&](absl::StatusOr<std::vector<std::string>> result) {
                        told = std::move(result);
                        finished.Notify();
                      });
      finished.WaitForNotification();
      if (!told.ok()) return told.status();
      for (const std::string& agency : *told) waiters_->Notify(agency);
      if (told->size() < static_cast<size_t>(kBatch)) break;
    }
  }
  return absl::OkStatus();
}

void Sweeper::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) {
          return;
        }
      }
      if (absl::Status s = RunOnce(); !s.ok()) {
        std::cerr << "sweep failed, will retry: " << s << std::endl;
      }
    }
  });
}

}  // namespace liaison
