#include "broker/store/sqlite/sqlite_files.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"

namespace liaison::sqlite {
namespace {

// What FilesVfs keeps in the VFS's pAppData.
struct Context {
  sqlite3_vfs* os;  // SQLite's own, which does the work
  StoreFiles* files;
};

// A file opened through FilesVfs; SQLite allocates szOsFile bytes for it,
// the OS layer's own file right behind this header.
struct File {
  sqlite3_file base;
  sqlite3_file* os;
  StoreFiles* files;  // null: nothing is asked
  const char* path;   // SQLite keeps it valid until xClose
  // The WAL's writes not yet handed to the OS, one contiguous run starting
  // at pending_at; null for other files. SQLite writes each WAL frame as
  // two writes (its header, then the page), so a commit of 200 frames was
  // 400 system calls; now it is one, at the sync that makes it durable.
  // Nothing is lost by waiting: SQLite syncs the WAL before a commit
  // counts, and other connections read only committed frames.
  std::string* pending;
  sqlite3_int64 pending_at;
};

// The most the WAL keeps pending before it is written anyway.
constexpr size_t kMaxPending = 1 << 20;

File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
Context* ContextOf(sqlite3_vfs* vfs) {
  return static_cast<Context*>(vfs->pAppData);
}

int WriteThrough(File* file, const void* data, int amount,
                 sqlite3_int64 offset) {
  if (file->files != nullptr &&
      !file->files->BeforeWrite(file->path ? file->path : "", offset, amount)
           .ok()) {
    return SQLITE_IOERR_WRITE;
  }
  return file->os->pMethods->xWrite(file->os, data, amount, offset);
}

// Hands what is pending to the OS, in writes of at most kMaxWrite bytes:
// SQLite's Unix layer writes at most 128 KiB in one call and reports the
// rest as a full disk. On an error what is left is dropped: the commit
// that needed it fails, and SQLite rolls it back.
constexpr size_t kMaxWrite = 64 * 1024;
int Flush(File* file) {
  if (file->pending == nullptr || file->pending->empty()) return SQLITE_OK;
  const std::string& pending = *file->pending;
  int rc = SQLITE_OK;
  for (size_t at = 0; at < pending.size() && rc == SQLITE_OK; at += kMaxWrite) {
    const size_t amount = std::min(kMaxWrite, pending.size() - at);
    rc = WriteThrough(file, pending.data() + at, static_cast<int>(amount),
                      file->pending_at + static_cast<sqlite3_int64>(at));
  }
  file->pending->clear();
  return rc;
}

int Close(sqlite3_file* f) {
  File* file = Of(f);
  const int flushed = Flush(file);
  delete file->pending;
  file->pending = nullptr;
  const int rc = file->os->pMethods->xClose(file->os);
  return flushed != SQLITE_OK ? flushed : rc;
}
int Read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Of(f)->os->pMethods->xRead(Of(f)->os, out, amount, offset);
}
int Write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  File* file = Of(f);
  if (file->pending == nullptr) return WriteThrough(file, data, amount, offset);
  std::string& pending = *file->pending;
  const sqlite3_int64 end = file->pending_at + pending.size();
  if (!pending.empty() && offset >= file->pending_at && offset <= end) {
    // Within or right after the run: SQLite rewrites a frame it wrote in
    // the same transaction, or goes on.
    const size_t at = static_cast<size_t>(offset - file->pending_at);
    if (at + amount > pending.size()) pending.resize(at + amount);
    pending.replace(at, amount, static_cast<const char*>(data), amount);
  } else {
    if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
    file->pending_at = offset;
    pending.assign(static_cast<const char*>(data), amount);
  }
  return pending.size() >= kMaxPending ? Flush(file) : SQLITE_OK;
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Of(f)->os->pMethods->xTruncate(Of(f)->os, size);
}
int Sync(sqlite3_file* f, int flags) {
  File* file = Of(f);
  if (const int rc = Flush(file); rc != SQLITE_OK) return rc;
  if (file->files != nullptr &&
      !file->files->BeforeSync(file->path ? file->path : "").ok()) {
    return SQLITE_IOERR_FSYNC;
  }
  return file->os->pMethods->xSync(file->os, flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (const int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Of(f)->os->pMethods->xFileSize(Of(f)->os, size);
}
int Lock(sqlite3_file* f, int level) {
  return Of(f)->os->pMethods->xLock(Of(f)->os, level);
}
int Unlock(sqlite3_file* f, int level) {
  return Of(f)->os->pMethods->xUnlock(Of(f)->os, level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Of(f)->os->pMethods->xCheckReservedLock(Of(f)->os, out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  if (const int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Of(f)->os->pMethods->xFileControl(Of(f)->os, op, arg);
}
int SectorSize(sqlite3_file* f) {
  return Of(f)->os->pMethods->xSectorSize(Of(f)->os);
}
int DeviceCharacteristics(sqlite3_file* f) {
  return Of(f)->os->pMethods->xDeviceCharacteristics(Of(f)->os);
}
int ShmMap(sqlite3_file* f, int page, int size, int extend,
           void volatile** out) {
  return Of(f)->os->pMethods->xShmMap(Of(f)->os, page, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Of(f)->os->pMethods->xShmLock(Of(f)->os, offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) {
  Of(f)->os->pMethods->xShmBarrier(Of(f)->os);
}
int ShmUnmap(sqlite3_file* f, int remove) {
  return Of(f)->os->pMethods->xShmUnmap(Of(f)->os, remove);
}
int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  if (const int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Of(f)->os->pMethods->xFetch(Of(f)->os, offset, amount, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return Of(f)->os->pMethods->xUnfetch(Of(f)->os, offset, p);
}

const sqlite3_io_methods kMethods = {3,
                                     Close,
                                     Read,
                                     Write,
                                     Truncate,
                                     Sync,
                                     FileSize,
                                     Lock,
                                     Unlock,
                                     CheckReservedLock,
                                     FileControl,
                                     SectorSize,
                                     DeviceCharacteristics,
                                     ShmMap,
                                     ShmLock,
                                     ShmBarrier,
                                     ShmUnmap,
                                     Fetch,
                                     Unfetch};

int Open(sqlite3_vfs* vfs, const char* path, sqlite3_file* f, int flags,
         int* out_flags) {
  Context* c = ContextOf(vfs);
  File* file = Of(f);
  file->base.pMethods = nullptr;
  file->os = reinterpret_cast<sqlite3_file*>(file + 1);
  file->files = c->files;
  file->path = path;
  file->pending = nullptr;
  file->pending_at = 0;
  const int rc = c->os->xOpen(c->os, path, file->os, flags, out_flags);
  // SQLite calls xClose only on files whose pMethods is set.
  if (file->os->pMethods != nullptr) {
    file->base.pMethods = &kMethods;
    if ((flags & SQLITE_OPEN_WAL) != 0) file->pending = new std::string;
  }
  return rc;
}
int Delete(sqlite3_vfs* vfs, const char* path, int sync_dir) {
  return ContextOf(vfs)->os->xDelete(ContextOf(vfs)->os, path, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* path, int flags, int* out) {
  return ContextOf(vfs)->os->xAccess(ContextOf(vfs)->os, path, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* path, int size, char* out) {
  return ContextOf(vfs)->os->xFullPathname(ContextOf(vfs)->os, path, size, out);
}
int Randomness(sqlite3_vfs* vfs, int size, char* out) {
  return ContextOf(vfs)->os->xRandomness(ContextOf(vfs)->os, size, out);
}
int Sleep(sqlite3_vfs* vfs, int microseconds) {
  return ContextOf(vfs)->os->xSleep(ContextOf(vfs)->os, microseconds);
}
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return ContextOf(vfs)->os->xCurrentTime(ContextOf(vfs)->os, out);
}
int GetLastError(sqlite3_vfs* vfs, int size, char* out) {
  return ContextOf(vfs)->os->xGetLastError(ContextOf(vfs)->os, size, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return ContextOf(vfs)->os->xCurrentTimeInt64(ContextOf(vfs)->os, out);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FilesVfs>> FilesVfs::Register(
    StoreFiles* files) {
  sqlite3_vfs* os = sqlite3_vfs_find(nullptr);
  if (os == nullptr || os->iVersion < 2) {
    return absl::FailedPreconditionError(
        "SQLite has no default VFS of version 2 or later to wrap");
  }
  static std::atomic<int> next_id{0};
  std::unique_ptr<FilesVfs> v(new FilesVfs);
  v->name_ = absl::StrCat("liaison-files-", next_id.fetch_add(1));
  v->vfs_.iVersion = 2;
  v->vfs_.szOsFile = static_cast<int>(sizeof(File)) + os->szOsFile;
  v->vfs_.mxPathname = os->mxPathname;
  v->vfs_.zName = v->name_.c_str();
  v->vfs_.pAppData = new Context{os, files};
  v->vfs_.xOpen = Open;
  v->vfs_.xDelete = Delete;
  v->vfs_.xAccess = Access;
  v->vfs_.xFullPathname = FullPathname;
  // Loadable extensions are not used.
  v->vfs_.xDlOpen = nullptr;
  v->vfs_.xDlError = nullptr;
  v->vfs_.xDlSym = nullptr;
  v->vfs_.xDlClose = nullptr;
  v->vfs_.xRandomness = Randomness;
  v->vfs_.xSleep = Sleep;
  v->vfs_.xCurrentTime = CurrentTime;
  v->vfs_.xGetLastError = GetLastError;
  v->vfs_.xCurrentTimeInt64 = CurrentTimeInt64;
  const int rc = sqlite3_vfs_register(&v->vfs_, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    delete static_cast<Context*>(v->vfs_.pAppData);
    v->vfs_.pAppData = nullptr;
    return absl::InternalError(
        absl::StrCat("cannot register the store's VFS: ", sqlite3_errstr(rc)));
  }
  return v;
}

FilesVfs::~FilesVfs() {
  if (vfs_.pAppData == nullptr) return;
  sqlite3_vfs_unregister(&vfs_);
  delete static_cast<Context*>(vfs_.pAppData);
}

}  // namespace liaison::sqlite
