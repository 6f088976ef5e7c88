// Time as the broker sees it. Services take a Clock so that expiry and
// deadlines are tested by moving a clock, not by waiting.
#ifndef LIAISON_BROKER_CLOCK_H_
#define LIAISON_BROKER_CLOCK_H_

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

}  // namespace liaison

#endif  // LIAISON_BROKER_CLOCK_H_
