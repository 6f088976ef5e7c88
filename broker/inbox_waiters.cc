#include "broker/inbox_waiters.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace liaison {

InboxWaiters::InboxWaiters() : timer_thread_([this] { TimerLoop(); }) {}

InboxWaiters::~InboxWaiters() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  timer_thread_.join();
}

void InboxWaiters::Add(const std::string& agency_id, const std::string& serial,
                       const std::shared_ptr<Waiter>& waiter) {
  absl::MutexLock lock(&mu_);
  std::vector<Entry>& list = waiters_[agency_id];
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const Entry& e) { return e.waiter.expired(); }),
             list.end());
  list.push_back(Entry{waiter, serial});
}

void InboxWaiters::Notify(const std::string& agency_id) {
  std::vector<std::shared_ptr<Waiter>> live;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiters_.find(agency_id);
    if (it == waiters_.end()) return;
    for (const Entry& e : it->second) {
      if (std::shared_ptr<Waiter> s = e.waiter.lock()) {
        live.push_back(std::move(s));
      }
    }
  }
  // Woken outside the lock: a waiter may call back into this object.
  for (const std::shared_ptr<Waiter>& w : live) w->Wake();
}

void InboxWaiters::WakeAt(const std::weak_ptr<Waiter>& waiter,
                          absl::Time when) {
  absl::MutexLock lock(&mu_);
  timers_.emplace(when, waiter);
}

int InboxWaiters::CloseRefused(const Check& check) {
  struct Live {
    std::string agency_id;
    std::string serial;
    std::shared_ptr<Waiter> waiter;
  };
  std::vector<Live> live;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [agency_id, list] : waiters_) {
      for (const Entry& e : list) {
        if (std::shared_ptr<Waiter> w = e.waiter.lock()) {
          live.push_back(Live{agency_id, e.serial, std::move(w)});
        }
      }
    }
  }
  // Checked and closed outside the lock, like Notify.
  int closed = 0;
  for (const Live& l : live) {
    absl::Status why = check(l.agency_id, l.serial);
    if (why.ok()) continue;
    l.waiter->Close(why);
    ++closed;
  }
  return closed;
}

std::vector<std::string> InboxWaiters::Connected() {
  std::vector<std::string> out;
  absl::MutexLock lock(&mu_);
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    std::vector<Entry>& list = it->second;
    list.erase(
        std::remove_if(list.begin(), list.end(),
                       [](const Entry& e) { return e.waiter.expired(); }),
        list.end());
    if (list.empty()) {
      waiters_.erase(it++);
      continue;
    }
    out.push_back(it->first);
    ++it;
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool InboxWaiters::Interrupted() const {
  return stopping_ ||
         (!timers_.empty() && timers_.begin()->first < wait_until_);
}

void InboxWaiters::TimerLoop() {
  for (;;) {
    std::vector<std::shared_ptr<Waiter>> due;
    {
      absl::MutexLock lock(&mu_);
      wait_until_ = timers_.empty() ? absl::Now() + absl::Seconds(1)
                                    : timers_.begin()->first;
      mu_.AwaitWithDeadline(absl::Condition(this, &InboxWaiters::Interrupted),
                            wait_until_);
      if (stopping_) return;
      const absl::Time now = absl::Now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        if (std::shared_ptr<Waiter> w = timers_.begin()->second.lock()) {
          due.push_back(std::move(w));
        }
        timers_.erase(timers_.begin());
      }
    }
    for (const std::shared_ptr<Waiter>& w : due) w->Wake();
  }
}

}  // namespace liaison
