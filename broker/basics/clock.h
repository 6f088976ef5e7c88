// Time as the broker sees it. Services take a Clock so that expiry and
// deadlines are tested by moving a clock, not by waiting.
#ifndef LIAISON_BROKER_BASICS_CLOCK_H_
#define LIAISON_BROKER_BASICS_CLOCK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace liaison {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system clock. Never null; lives for the whole program.
inline Clock* RealClock() {
  class SystemClock final : public Clock {
   public:
    absl::Time Now() const override { return absl::Now(); }
  };
  static SystemClock* clock = new SystemClock;
  return clock;
}

// A clock read from a file holding one RFC 3339 time, for tests of the
// real broker process that must move time (consent validity, the age of
// majority, expiry). The file is read again whenever its modification time
// or size changes; write it by renaming a complete file over it. If it
// cannot be read or parsed, the last time read stays.
class FileClock final : public Clock {
 public:
  // INVALID_ARGUMENT when `path` cannot be read or holds no RFC 3339 time.
  static absl::StatusOr<std::unique_ptr<FileClock>> Open(std::string path);
  absl::Time Now() const override;

 private:
  FileClock(std::string path, absl::Time now)
      : path_(std::move(path)), now_(now) {}
  const std::string path_;
  mutable absl::Mutex mu_;
  mutable absl::Time now_ ABSL_GUARDED_BY(mu_);
  mutable int64_t seen_mtime_ns_ ABSL_GUARDED_BY(mu_) = -1;
  mutable int64_t seen_size_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace liaison

#endif  // LIAISON_BROKER_BASICS_CLOCK_H_
