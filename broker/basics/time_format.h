// How every Liaison tool writes a time.
#ifndef LIAISON_BROKER_BASICS_TIME_FORMAT_H_
#define LIAISON_BROKER_BASICS_TIME_FORMAT_H_

#include <string>

#include "absl/time/time.h"

namespace liaison {

// RFC 3339 in UTC to the second, e.g. "2026-11-22T10:00:00Z": the one
// format every Liaison tool prints times in.
std::string Rfc3339(absl::Time t);

}  // namespace liaison

#endif  // LIAISON_BROKER_BASICS_TIME_FORMAT_H_
