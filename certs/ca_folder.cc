#include "certs/ca_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "broker/basics/files.h"
#include "broker/basics/time_format.h"
#include "broker/basics/x509.h"

namespace liaison::certs {
namespace {

namespace fs = std::filesystem;

constexpr int kIndexFields = 10;

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view s) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad timestamp \"", s, "\": ", err));
  }
  return t;
}

}  // namespace

absl::StatusOr<DirectoryLock> DirectoryLock::Acquire(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kLock);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const std::string err = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat(path, ": cannot lock: ", err));
  }
  return DirectoryLock(fd);
}

DirectoryLock::DirectoryLock(DirectoryLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string IndexLine(const IndexEntry& e) {
  return absl::StrCat(
      absl::StrJoin({e.serial, e.kind, e.principal, e.subject,
                     Rfc3339(e.not_before),
                     Rfc3339(e.not_after),
                     std::string(e.revoked ? "revoked" : "valid"),
                     e.revoked ? Rfc3339(e.revoked_at) : "-",
                     std::string(e.revoked ? ReasonName(e.reason) : "-"),
                     e.cert_path},
                    "\t"),
      "\n");
}

absl::StatusOr<std::vector<IndexEntry>> ParseIndex(const std::string& path,
                                                   absl::string_view text) {
  std::vector<IndexEntry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat(
          path, " line ", line_number, ": ", why,
          "; repair the line or restore the CA directory from a backup"));
    };
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() != kIndexFields) {
      return bad(absl::StrCat("expected ", kIndexFields, " tab-separated "
                              "fields, found ", f.size()));
    }
    IndexEntry e;
    e.serial = f[0];
    e.kind = f[1];
    e.principal = f[2];
    e.subject = f[3];
    absl::StatusOr<absl::Time> t = ParseTimestamp(f[4]);
    if (!t.ok()) return bad(t.status().message());
    e.not_before = *t;
    t = ParseTimestamp(f[5]);
    if (!t.ok()) return bad(t.status().message());
    e.not_after = *t;
    if (f[6] == "revoked") {
      e.revoked = true;
      t = ParseTimestamp(f[7]);
      if (!t.ok()) return bad(t.status().message());
      e.revoked_at = *t;
      absl::StatusOr<RevocationReason> reason = ParseRevocationReason(f[8]);
      if (!reason.ok()) return bad(reason.status().message());
      e.reason = *reason;
    } else if (f[6] != "valid") {
      return bad(absl::StrCat("unknown status \"", f[6], "\""));
    }
    e.cert_path = f[9];
    if (x509::NormalizeSerial(e.serial).value_or("") != e.serial) {
      return bad(absl::StrCat("bad serial \"", e.serial, "\""));
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

absl::Status MakeDirectory(const std::string& dir, fs::perms mode) {
  std::error_code ec;
  bool created = fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  }
  if (created) {
    fs::permissions(dir, mode, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat(dir, ": cannot set permissions: ", ec.message()));
    }
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

std::string IndexPath(const std::string& base, const std::string& folder,
                      const std::string& file) {
  std::error_code ec;
  fs::path abs_base = fs::canonical(base, ec);
  if (ec) return (fs::absolute(folder) / file).lexically_normal().string();
  fs::path abs_folder = fs::canonical(folder, ec);
  if (ec) return (fs::absolute(folder) / file).lexically_normal().string();
  fs::path rel = abs_folder.lexically_relative(abs_base);
  if (rel.empty() || *rel.begin() == "..") return (abs_folder / file).string();
  return (rel / file).lexically_normal().string();
}

absl::StatusOr<uint64_t> ReadCrlNumber(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is missing; restore it from a backup, or write into it a "
              "number larger than that of every CRL published so far"));
  }
  if (!text.ok()) return text.status();
  uint64_t number = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &number) ||
      number == 0) {
    return absl::DataLossError(absl::StrCat(
        path, " does not hold a positive decimal number; restore it from a "
              "backup"));
  }
  return number;
}

}  // namespace liaison::certs
