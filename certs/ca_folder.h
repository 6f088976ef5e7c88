// The CA's folder on disk as ca.h describes it: the names of its files, the
// lock every change holds, the index.tsv format and the CRL counter. Used
// by the CA's own sources (ca.cc, ca_issue.cc, ca_revocation.cc); not part
// of its interface (ca.h).
#ifndef LIAISON_CERTS_CA_FOLDER_H_
#define LIAISON_CERTS_CA_FOLDER_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "certs/ca.h"

namespace liaison::certs {

inline constexpr char kCaCert[] = "ca.crt";
inline constexpr char kCaKey[] = "ca.key";
inline constexpr char kIndex[] = "index.tsv";
inline constexpr char kCrlNumber[] = "crlnumber";
inline constexpr char kCrl[] = "crl.pem";
inline constexpr char kIssued[] = "issued";
inline constexpr char kLock[] = ".lock";

inline constexpr char kIndexHeader[] =
    "# liaison-certs index: serial\tkind\tprincipal\tsubject\tnot_before\t"
    "not_after\tstatus\trevoked_at\treason\tcert_path\n";

// An exclusive flock on <dir>/.lock, released when destroyed. Blocks while
// another process holds it.
class DirectoryLock {
 public:
  static absl::StatusOr<DirectoryLock> Acquire(const std::string& dir);

  DirectoryLock(DirectoryLock&& other) noexcept;
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

// One index.tsv line for `e`, ending in a newline.
std::string IndexLine(const IndexEntry& e);

// The entries of index.tsv, whose contents are `text`; DATA_LOSS naming
// `path` and the line for a line that does not parse.
absl::StatusOr<std::vector<IndexEntry>> ParseIndex(const std::string& path,
                                                   absl::string_view text);

// Creates `dir` and its parents if missing; a directory created here gets
// `mode`.
absl::Status MakeDirectory(const std::string& dir,
                           std::filesystem::perms mode);

// Whether anything, even a dangling symlink, is at `path`.
bool Exists(const std::string& path);

// `file` inside `folder`, relative to `base` when inside it, else absolute.
std::string IndexPath(const std::string& base, const std::string& folder,
                      const std::string& file);

// The number in the crlnumber file at `path`; FAILED_PRECONDITION when it
// is missing, DATA_LOSS when it holds no positive number.
absl::StatusOr<uint64_t> ReadCrlNumber(const std::string& path);

}  // namespace liaison::certs

#endif  // LIAISON_CERTS_CA_FOLDER_H_
