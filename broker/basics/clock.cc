#include "broker/basics/clock.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace liaison {
namespace {

absl::StatusOr<absl::Time> ReadTime(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the clock file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string value(absl::StripAsciiWhitespace(text.str()));
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the clock file ", path, " holds \"", value,
                     "\", not an RFC 3339 time such as "
                     "2027-03-01T12:00:00Z: ",
                     error));
  }
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileClock>> FileClock::Open(std::string path) {
  absl::StatusOr<absl::Time> now = ReadTime(path);
  if (!now.ok()) return now.status();
  return std::unique_ptr<FileClock>(new FileClock(std::move(path), *now));
}

absl::Time FileClock::Now() const {
  struct stat st;
  absl::MutexLock lock(&mu_);
  if (stat(path_.c_str(), &st) == 0) {
    const int64_t mtime =
        int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    const int64_t size = st.st_size;
    if (mtime != seen_mtime_ns_ || size != seen_size_) {
      absl::StatusOr<absl::Time> t = ReadTime(path_);
      if (t.ok()) {
        now_ = *t;
        seen_mtime_ns_ = mtime;
        seen_size_ = size;
      }
    }
  }
  return now_;
}

}  // namespace liaison
