// Fuzzes the policy loader and checker: the input is one more policy file
// loaded after the default set, so every check (syntax, references,
// overlaps, rules, mappings) sees arbitrary text beside a realistic set.
//
// Properties: loading never crashes; a refused set reports every problem
// as "file:line: ..."; an accepted set has a version that is the same when
// loaded again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const std::vector<liaison::policy::PolicySource>& DefaultSources() {
  static const auto* sources = [] {
    auto* out = new std::vector<liaison::policy::PolicySource>();
    for (const char* name : {"sectors.textproto", "jurisdictions.textproto",
                             "code-mappings.textproto", "records.textproto",
                             "envelopes.textproto", "agreements.textproto"}) {
      std::string path = std::string(LIAISON_POLICY_DIR) + "/" + name;
      std::FILE* f = std::fopen(path.c_str(), "rb");
      if (f == nullptr) liaison::fuzz::Violated("cannot read the default set");
      std::string text;
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
      out->push_back({name, std::move(text)});
    }
    return out;
  }();
  return *sources;
}

// "name:LINE:" or "name:LINE: " with LINE a positive number.
bool PointsAtALine(absl::string_view line) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  size_t i = colon + 1;
  size_t digits = 0;
  while (i < line.size() && absl::ascii_isdigit(line[i])) ++i, ++digits;
  return digits > 0 && i < line.size() && line[i] == ':';
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  liaison::fuzz::QuietProtobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<liaison::policy::PolicySource> sources = DefaultSources();
  sources.push_back({"fuzz.textproto",
                     std::string(reinterpret_cast<const char*>(data), size)});
  auto set = liaison::policy::PolicySet::FromSources(sources);
  if (!set.ok()) {
    for (absl::string_view line :
         absl::StrSplit(set.status().message(), '\n', absl::SkipEmpty())) {
      if (!PointsAtALine(line)) {
        std::fprintf(stderr, "error without file:line: %.*s\n",
                     static_cast<int>(line.size()), line.data());
        liaison::fuzz::Violated("an error does not point at a file and line");
      }
    }
    return 0;
  }
  if (!absl::StartsWith((*set)->version(), "p-")) {
    liaison::fuzz::Violated("a loaded set has no version");
  }
  auto again = liaison::policy::PolicySet::FromSources(sources);
  if (!again.ok() || (*again)->version() != (*set)->version()) {
    liaison::fuzz::Violated("loading the same files twice differs");
  }
  return 0;
}
