// What the CA's tests and the liaison-certs tests share: temporary folders,
// reading back the files the CA writes, and the spec of an agency
// certificate.
#ifndef LIAISON_CERTS_CA_TESTING_H_
#define LIAISON_CERTS_CA_TESTING_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "broker/basics/files.h"
#include "certs/ca.h"
#include "gtest/gtest.h"

namespace liaison::certs {

// A fresh folder under the test temp dir.
inline std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/ca_test.XXXXXX";
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

// The permission bits of `path`; -1 when it cannot be read.
inline int FileMode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// What the file at `path` holds; "" when it cannot be read.
inline std::string Contents(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  return text.ok() ? *text : "";
}

// A year-long client certificate for the agency `id` in `sector`, from
// `now`, labelled "agency-<id>".
inline IssueSpec AgencySpec(const std::string& sector, const std::string& id,
                            absl::Time now) {
  IssueSpec spec;
  spec.common_name = id;
  spec.uri_sans = {absl::StrCat("liaison://agency/", sector, "/", id)};
  spec.not_before = now;
  spec.validity = absl::Hours(24 * 365);
  spec.client_auth = true;
  spec.label = absl::StrCat("agency-", id);
  return spec;
}

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_CA_TESTING_H_
