// Shared by the fuzz targets: the default policy set, loaded once.
#ifndef LIAISON_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define LIAISON_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "policy/policy_set.h"

namespace liaison::fuzz {

// The repository's default policy set; aborts when it does not load, since
// every run would then test nothing.
inline const policy::PolicySet& DefaultSet() {
  static const std::shared_ptr<const policy::PolicySet> set = [] {
    auto loaded = policy::PolicySet::FromDirectory(LIAISON_POLICY_DIR);
    if (!loaded.ok()) {
      std::fprintf(stderr, "default policy set: %s\n",
                   std::string(loaded.status().message()).c_str());
      std::abort();
    }
    return *std::move(loaded);
  }();
  return *set;
}

// Silences protobuf's own log: text-format escapes let inputs carry bytes
// that are not UTF-8, and protobuf logs each one when serialising. The
// properties checked by the targets are what matters.
inline void QuietProtobuf() {
  google::protobuf::SetLogHandler(
      +[](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

// Stops the run with a message: libFuzzer reports it as a crash and saves
// the input.
[[noreturn]] inline void Violated(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

}  // namespace liaison::fuzz

#endif  // LIAISON_TESTS_FUZZ_FUZZ_SUPPORT_H_
