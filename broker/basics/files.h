// Whole-file reads and atomic writes, the way every Liaison tool touches
// its files.
#ifndef LIAISON_BROKER_BASICS_FILES_H_
#define LIAISON_BROKER_BASICS_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liaison {

// Reads a whole file. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` atomically (temporary file, fsync, rename) with
// the given permission bits.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                             int mode);

}  // namespace liaison

#endif  // LIAISON_BROKER_BASICS_FILES_H_
