// The SQLite store's access to its files (the database, its WAL and the
// WAL's shared-memory index) behind an interface a test can wrap to fail a
// write or an fsync, as LevelDB's Env lets its tests do. The store reaches
// its files through a SQLite VFS that asks StoreFiles before each write and
// sync, then hands the call to SQLite's own OS layer.
#ifndef LIAISON_BROKER_STORE_SQLITE_SQLITE_FILES_H_
#define LIAISON_BROKER_STORE_SQLITE_SQLITE_FILES_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liaison {

class StoreFiles {
 public:
  virtual ~StoreFiles() = default;
  // Before `amount` bytes are written at `offset` of `path`. An error fails
  // the write (SQLite sees SQLITE_IOERR_WRITE) and nothing is written.
  virtual absl::Status BeforeWrite(absl::string_view path, int64_t offset,
                                   int amount) = 0;
  // Before `path` is synced to stable storage. An error fails the sync
  // (SQLITE_IOERR_FSYNC), so the commit that asked for it fails.
  virtual absl::Status BeforeSync(absl::string_view path) = 0;
};

namespace sqlite {

// A VFS registered with SQLite under a name of its own, routing every file
// of the connections opened with it through `files` (when not null); it
// also gathers the WAL's writes into one per commit. Unregistered when
// destroyed, which must happen after those connections are closed.
class FilesVfs {
 public:
  // `files`, if not null, must outlive the VFS.
  static absl::StatusOr<std::unique_ptr<FilesVfs>> Register(StoreFiles* files);
  ~FilesVfs();
  FilesVfs(const FilesVfs&) = delete;
  FilesVfs& operator=(const FilesVfs&) = delete;

  // For sqlite3_open_v2's zVfs.
  const char* name() const { return name_.c_str(); }

 private:
  FilesVfs() = default;
  std::string name_;
  sqlite3_vfs vfs_{};
};

}  // namespace sqlite
}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_FILES_H_
