#include "broker/sweeper.h"

#include <iostream>

#include "absl/synchronization/notification.h"
#include "broker/log/message_util.h"
#include "broker/store/retention.h"
#include "policy/disclosure.h"

namespace liaison {
namespace {

// Most messages or referrals handled per store operation, so one pass never
// holds the commit thread for long.
constexpr int kBatch = 500;

// The actor of PURGE entries.
constexpr char kPurgeActor[] = "liaison://broker/sweeper/retention";

}  // namespace

Sweeper::Sweeper(Store* store, InboxWaiters* waiters, const Clock* clock,
                 absl::Duration notice_ttl, const Registry* registry,
                 const policy::PolicyInForce* policy)
    : store_(store),
      waiters_(waiters),
      clock_(clock),
      notice_ttl_(notice_ttl),
      registry_(registry),
      policy_(policy) {}

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
  return PurgeDue();
}

absl::Status Sweeper::PurgeDue() {
  if (registry_ == nullptr || policy_ == nullptr) return absl::OkStatus();
  const absl::Time now = clock_->Now();
  const std::shared_ptr<const policy::PolicySet> set = policy_->Get();
  PurgeRequest request;
  request.max = kBatch;
  SetTime(request.entry.mutable_time(), now);
  request.entry.set_kind(v1::ENTRY_KIND_PURGE);
  request.entry.set_actor(kPurgeActor);
  request.entry.set_policy_version(set->version());
  request.entry.set_allowed(true);
  for (const v1::Agency& agency : registry_->Agencies()) {
    const v1::Retention r = policy::RetentionOf(*set, agency.jurisdiction());
    PurgeCutoffs& cut = request.by_agency[agency.id()];
    const auto days = [&](uint32_t n) { return now - absl::Hours(24) * n; };
    cut[HeldKind::kInboxMessage] = days(r.inbox_message_days());
    cut[HeldKind::kSummary] = days(r.summary_days());
    cut[HeldKind::kReferral] = days(r.referral_days());
    cut[HeldKind::kSummaryRequest] = days(r.summary_request_days());
    cut[HeldKind::kConsentEvidence] = days(r.consent_evidence_days());
    cut[HeldKind::kOverrideStatement] = days(r.override_statement_days());
  }
  for (;;) {
    absl::Notification finished;
    absl::StatusOr<PurgeCounts> purged;
    store_->Purge(request, [&](absl::StatusOr<PurgeCounts> result) {
      purged = std::move(result);
      finished.Notify();
    });
    finished.WaitForNotification();
    if (!purged.ok()) return purged.status();
    v1::LogEntry told;
    if (AddPurgeCounts(*purged, &told) == 0) break;
    std::cerr << "liaison-broker: " << told.reason() << std::endl;
    scrub_owed_ = true;
    bool more = false;
    for (int64_t n : purged->n) more = more || n >= kBatch;
    if (!more) break;
  }
  if (!scrub_owed_) return absl::OkStatus();
  absl::Notification finished;
  absl::StatusOr<bool> scrubbed;
  store_->Scrub([&](absl::StatusOr<bool> result) {
    scrubbed = std::move(result);
    finished.Notify();
  });
  finished.WaitForNotification();
  if (!scrubbed.ok()) return scrubbed.status();
  // Held back by a reader: the next pass tries again.
  scrub_owed_ = !*scrubbed;
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
