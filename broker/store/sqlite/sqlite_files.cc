#include "broker/store/sqlite/sqlite_files.h"

#include <algorithm>
#include <atomic>

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
  StoreFiles* files;
  const char* path;  // SQLite keeps it valid until xClose
};

File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
Context* ContextOf(sqlite3_vfs* vfs) {
  return static_cast<Context*>(vfs->pAppData);
}

int Close(sqlite3_file* f) { return Of(f)->os->pMethods->xClose(Of(f)->os); }
int Read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  return Of(f)->os->pMethods->xRead(Of(f)->os, out, amount, offset);
}
int Write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  File* file = Of(f);
  if (!file->files->BeforeWrite(file->path ? file->path : "", offset, amount)
           .ok()) {
    return SQLITE_IOERR_WRITE;
  }
  return file->os->pMethods->xWrite(file->os, data, amount, offset);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return Of(f)->os->pMethods->xTruncate(Of(f)->os, size);
}
int Sync(sqlite3_file* f, int flags) {
  File* file = Of(f);
  if (!file->files->BeforeSync(file->path ? file->path : "").ok()) {
    return SQLITE_IOERR_FSYNC;
  }
  return file->os->pMethods->xSync(file->os, flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
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
  const int rc = c->os->xOpen(c->os, path, file->os, flags, out_flags);
  // SQLite calls xClose only on files whose pMethods is set.
  if (file->os->pMethods != nullptr) file->base.pMethods = &kMethods;
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
