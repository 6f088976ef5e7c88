#include "broker/store/sqlite/sqlite_store.h"

#include <pthread.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"
#include "broker/store/sqlite/sqlite_log.h"
#include "broker/store/sqlite/sqlite_query.h"
#include "broker/store/sqlite/sqlite_schema.h"

namespace liaison {
namespace {

// Page cache of each connection: 16 MiB (negative: KiB).
constexpr char kCacheSizePragma[] = "PRAGMA cache_size=-16384";

}  // namespace

using sqlite::ParseBlob;
using sqlite::Query;
using sqlite::SqlError;
using sqlite::StatementCache;

int SqliteStore::LatestSchemaVersion() { return sqlite::kMigrationCount; }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path is empty");
  }
  if (options.rules == nullptr) {
    return absl::InvalidArgumentError(
        "store opened without the broker's rules");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::FilesVfs> vfs,
                   sqlite::FilesVfs::Register(options.files));
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      options.path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      vfs->name());
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open store ", options.path, ": ", message));
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(db, std::move(vfs), options));
  // 1 KiB pages, for a new file only (an existing one keeps its own): a
  // commit writes every page it dirtied in full, and a group's inserts land
  // on many pages of many indexes, so smaller pages write less. Measured
  // with liaison-bench at 64 callers against 4 KiB pages: about 29% fewer
  // bytes written per referral and about 15% more referrals/s, for a file
  // about a third larger.
  absl::Status s = store->Exec("PRAGMA page_size=1024");
  // WAL with synchronous=FULL: a committed transaction survives power loss.
  if (s.ok()) s = store->Exec("PRAGMA journal_mode=WAL");
  if (s.ok()) s = store->Exec("PRAGMA synchronous=FULL");
  if (s.ok()) s = store->Exec("PRAGMA foreign_keys=ON");
  // Freed space is zeroed, so purged content leaves no bytes behind in
  // the database's pages (DESIGN.md rule 10).
  if (s.ok()) s = store->Exec("PRAGMA secure_delete=ON");
  // The single writer's pages stay in memory: with SQLite's default 2 MiB
  // cache the commit thread spent most of its time re-reading pages from
  // the OS.
  if (s.ok()) s = store->Exec(kCacheSizePragma);
  if (s.ok()) s = store->Migrate();
  if (s.ok()) {
    absl::StatusOr<uint64_t> size = store->log_->Size();
    s = size.status();
    if (s.ok()) s = store->appender_.StartAt(*store->log_, *size);
  }
  if (s.ok()) s = store->SignHeadIfBehind();
  if (s.ok()) s = store->OpenReader(options.path, options.busy_timeout_ms);
  if (s.ok()) {
    s = store->OpenCheckpointer(options.path, options.busy_timeout_ms);
  }
  if (!s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("store ", options.path, ": ", s.message()));
  }
  // Named, so `top -H` and a profile tell the store's threads apart.
  store->committer_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "store-commit");
    s->CommitLoop();
  });
  store->reader_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "store-read");
    s->ReadLoop();
  });
  store->checkpointer_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "store-ckpt");
    s->CheckpointLoop();
  });
  // Replaces SQLite's own checkpoint after a commit: from here on the
  // commit thread only wakes the checkpoint thread.
  sqlite3_wal_hook(db, &SqliteStore::OnWalCommit, store.get());
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, std::unique_ptr<sqlite::FilesVfs> vfs,
                         const SqliteStoreOptions& options)
    : vfs_(std::move(vfs)),
      db_(db),
      max_group_(std::max(1, options.max_group)),
      rules_(options.rules),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      appender_(options.signer, clock_),
      log_(std::make_unique<sqlite::LogTables>(db)),
      statements_(std::make_unique<sqlite::StatementCache>(db)),
      checkpoint_frames_(std::max(1, options.checkpoint_frames)),
      restart_frames_(std::max(1, options.restart_frames)) {}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (committer_.joinable()) committer_.join();
  if (reader_.joinable()) reader_.join();
  {
    absl::MutexLock lock(&checkpoint_mu_);
    checkpoint_stopping_ = true;
  }
  if (checkpointer_.joinable()) checkpointer_.join();
  // Statements first: a connection with one unfinalized does not close.
  reader_statements_.reset();
  statements_.reset();
  reader_log_.reset();
  log_.reset();
  sqlite3_close_v2(checkpoint_db_);
  sqlite3_close_v2(reader_db_);
  sqlite3_close_v2(db_);
}

absl::Status SqliteStore::OpenConnection(const std::string& path, int flags,
                                         int busy_timeout_ms, const char* what,
                                         sqlite3** db) {
  const int rc =
      sqlite3_open_v2(path.c_str(), db, flags | SQLITE_OPEN_NOMUTEX, VfsName());
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open ", what,
        " on the store: ", *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(*db, busy_timeout_ms);
  return absl::OkStatus();
}

absl::Status SqliteStore::OpenReader(const std::string& path,
                                     int busy_timeout_ms) {
  RETURN_IF_ERROR(OpenConnection(path, SQLITE_OPEN_READONLY, busy_timeout_ms,
                                 "a reader", &reader_db_));
  sqlite3_exec(reader_db_, kCacheSizePragma, nullptr, nullptr, nullptr);
  reader_log_ = std::make_unique<sqlite::LogTables>(reader_db_);
  reader_statements_ = std::make_unique<sqlite::StatementCache>(reader_db_);
  return absl::OkStatus();
}

absl::Status SqliteStore::OpenCheckpointer(const std::string& path,
                                           int busy_timeout_ms) {
  RETURN_IF_ERROR(OpenConnection(path, SQLITE_OPEN_READWRITE, busy_timeout_ms,
                                 "the checkpoint connection", &checkpoint_db_));
  // A checkpoint syncs the database file before the WAL's frames count as
  // copied, on this connection's setting; and it never checkpoints on its
  // own.
  char* error = nullptr;
  if (sqlite3_exec(checkpoint_db_,
                   "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0",
                   nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    return absl::UnavailableError(absl::StrCat(
        "cannot set up the checkpoint connection on the store: ", message));
  }
  return absl::OkStatus();
}

int SqliteStore::OnWalCommit(void* store, sqlite3*, const char*, int frames) {
  auto* self = static_cast<SqliteStore*>(store);
  // Frames not yet copied; fewer frames than copied means the WAL started
  // again from its beginning.
  int copied = self->checkpointed_frames_.load(std::memory_order_relaxed);
  if (frames < copied) copied = 0;
  if (frames - copied >= self->checkpoint_frames_) {
    absl::MutexLock lock(&self->checkpoint_mu_);
    self->checkpoint_wanted_ = true;
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->checkpoint_mu_) {
            return s->checkpoint_stopping_ ||
                   (s->checkpoint_wanted_ && !s->restart_wanted_);
          },
          this));
      if (checkpoint_stopping_) return;
      checkpoint_wanted_ = false;
    }
    // Passive: copies what it can without waiting for anyone, while the
    // commit thread goes on appending.
    int in_wal = 0;
    int copied = 0;
    absl::ReleasableMutexLock connection(&checkpoint_db_mu_);
    const int rc = sqlite3_wal_checkpoint_v2(
        checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &in_wal, &copied);
    if (rc == SQLITE_OK) {
      checkpointed_frames_.store(copied, std::memory_order_relaxed);
    }
    const std::string error = sqlite3_errmsg(checkpoint_db_);
    connection.Release();
    {
      absl::MutexLock lock(&mu_);
      ++stats_.checkpoints;
      // BUSY: another checkpoint was running; the next wake-up tries again.
      stats_.checkpoint_error =
          rc == SQLITE_OK || rc == SQLITE_BUSY ? "" : error;
    }
    // Under steady load a passive checkpoint never copies everything (the
    // commit thread appends meanwhile), and SQLite writes the WAL from its
    // beginning again only when everything was copied: the file would
    // only grow. Past restart_frames_ the commit thread copies the rest
    // itself, between two groups (CatchUpCheckpoint). Waiting for its
    // write lock here instead took too long: the commit thread holds it
    // nearly all the time under load.
    if (rc == SQLITE_OK && in_wal >= restart_frames_) {
      absl::MutexLock lock(&checkpoint_mu_);
      restart_wanted_ = true;
      restart_asked_.store(true, std::memory_order_relaxed);
    }
  }
}

void SqliteStore::CatchUpCheckpoint() {
  if (!restart_asked_.load(std::memory_order_relaxed)) return;
  // Only what came since the checkpoint thread's last copy, so it is
  // short; once all is copied, the next BEGIN starts the WAL again.
  int in_wal = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(
      db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &in_wal, &copied);
  if (rc == SQLITE_OK) {
    checkpointed_frames_.store(copied, std::memory_order_relaxed);
  }
  {
    absl::MutexLock lock(&mu_);
    // A reader still on an older snapshot keeps its frames in the WAL;
    // then the checkpoint thread asks again later.
    if (rc == SQLITE_OK && copied == in_wal) ++stats_.restarts;
  }
  absl::MutexLock lock(&checkpoint_mu_);
  restart_asked_.store(false, std::memory_order_relaxed);
  restart_wanted_ = false;
}

const char* SqliteStore::VfsName() const {
  return vfs_ ? vfs_->name() : nullptr;
}

absl::Status SqliteStore::SignHeadIfBehind() {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  absl::Status s = appender_.SignIfBehind(*log_);
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) Exec("ROLLBACK").IgnoreError();
  return s;
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(message);
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::ExecCached(const char* sql) {
  ASSIGN_OR_RETURN(StatementCache::Use statement, statements_->Get(sql));
  absl::Status s = statement->Run();
  if (!s.ok()) return absl::InternalError(s.message());
  return absl::OkStatus();
}

absl::Status SqliteStore::Migrate() {
  int current = 0;
  {
    // Reset before the migrations run: a statement still stepping makes
    // DROP TABLE fail as locked.
    ASSIGN_OR_RETURN(StatementCache::Use version,
                     statements_->Get("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, version->Step());
    if (!row) return SqlError(db_, "read schema version");
    current = static_cast<int>(version->Int(0));
  }
  const int latest = LatestSchemaVersion();
  if (current > latest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "schema version ", current, " is newer than this broker supports (",
        latest, "); run a broker at least as new as the one that wrote it"));
  }
  for (int v = current; v < latest; ++v) {
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status s = Exec(sqlite::kMigrations[v]);
    if (s.ok()) {
      s = Exec(absl::StrCat("PRAGMA user_version=", v + 1).c_str());
    }
    if (s.ok() && v + 1 == sqlite::kLogIndexVersion) s = log_->IndexExisting();
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return absl::InternalError(absl::StrCat("migration to schema version ",
                                              v + 1, " failed: ", s.message()));
    }
    RETURN_IF_ERROR(Exec("COMMIT"));
  }
  schema_version_ = latest;
  return absl::OkStatus();
}

void SqliteStore::Submit(std::function<absl::Status()> run,
                         std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back({std::move(run), std::move(done)});
      return;
    }
  }
  done(absl::UnavailableError("the store is shutting down"));
}

void SqliteStore::SubmitRead(std::function<absl::Status()> run,
                             std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      reads_.push_back({std::move(run), std::move(done)});
      return;
    }
  }
  done(absl::UnavailableError("the store is shutting down"));
}

void SqliteStore::ReadLoop() {
  for (;;) {
    Operation read;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->stopping_ || !s->reads_.empty();
          },
          this));
      if (reads_.empty()) return;  // stopping, nothing left
      read = std::move(reads_.front());
      reads_.pop_front();
    }
    // One snapshot per read: a head and the nodes under it agree. BEGIN
    // and COMMIT are prepared once: parsing them for every read was about
    // 3% of the broker's CPU under load.
    absl::Status s = RunReaderStatement("BEGIN");
    if (!s.ok()) {
      s = absl::UnavailableError(
          absl::StrCat("cannot read the store: ", s.message()));
    } else {
      s = read.run();
      RunReaderStatement("COMMIT").IgnoreError();
    }
    read.done(s);
  }
}

absl::Status SqliteStore::RunReaderStatement(const char* sql) {
  ASSIGN_OR_RETURN(StatementCache::Use statement, reader_statements_->Get(sql));
  return statement->Run();
}

absl::Status SqliteStore::RunAndWait(std::function<absl::Status()> run) {
  absl::Notification finished;
  absl::Status result;
  Submit(std::move(run), [&](absl::Status s) {
    result = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

SqliteStore::CommitStats SqliteStore::Stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void SqliteStore::CommitLoop() {
  for (;;) {
    std::vector<Operation> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->stopping_ || !s->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && static_cast<int>(group.size()) < max_group_) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CatchUpCheckpoint();
    std::vector<absl::Status> results(group.size());
    absl::Status commit = ExecCached("BEGIN IMMEDIATE");
    if (commit.ok() && !appender_.started()) {
      // A rewind could not read the log back: find its end again.
      absl::StatusOr<uint64_t> size = log_->Size();
      commit = size.ok() ? appender_.StartAt(*log_, *size) : size.status();
    }
    const uint64_t log_size_before = appender_.size();
    if (commit.ok()) {
      for (size_t i = 0; i < group.size(); ++i) {
        commit = ExecCached("SAVEPOINT op");
        if (!commit.ok()) break;
        const uint64_t log_size_at_op = appender_.size();
        results[i] = group[i].run();
        if (!results[i].ok()) {
          commit = ExecCached("ROLLBACK TO op");
          if (commit.ok() && appender_.size() != log_size_at_op) {
            commit = appender_.RewindTo(*log_, log_size_at_op);
          }
        }
        if (commit.ok()) commit = ExecCached("RELEASE op");
        if (!commit.ok()) break;
      }
      // The head is signed inside the transaction: no entry is answered
      // before a durable head commits to it.
      if (commit.ok()) commit = appender_.SignHead(*log_, log_size_before);
      // The one fsync for the whole group.
      if (commit.ok()) commit = ExecCached("COMMIT");
      if (!commit.ok()) ExecCached("ROLLBACK").IgnoreError();
    }
    if (!commit.ok() && appender_.size() != log_size_before) {
      // After the rollback the file holds the log as it was; an error here
      // leaves the appender unstarted, and the next group starts it again.
      appender_.RewindTo(*log_, log_size_before).IgnoreError();
    }
    {
      absl::MutexLock lock(&mu_);
      ++stats_.commits;
      stats_.operations += group.size();
    }
    for (size_t i = 0; i < group.size(); ++i) {
      if (!commit.ok()) {
        group[i].done(absl::UnavailableError(
            absl::StrCat("the store could not commit, nothing was changed: ",
                         commit.message())));
      } else {
        group[i].done(results[i]);
      }
    }
  }
}

// Registry.

absl::Status SqliteStore::UpsertAgency(const v1::Agency& agency) {
  return RunAndWait([&] { return UpsertAgencyLocked(agency); });
}

absl::Status SqliteStore::UpsertAgencyLocked(const v1::Agency& agency) {
  ASSIGN_OR_RETURN(
      StatementCache::Use upsert,
      statements_->Get(
          "INSERT INTO agencies (id, sector, jurisdiction, area, "
          "display_name, public_authority, privacy_officer_contact, "
          "status, status_reason) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) "
          "ON CONFLICT(id) DO UPDATE SET sector=?2, jurisdiction=?3, "
          "area=?4, display_name=?5, public_authority=?6, "
          "privacy_officer_contact=?7, status=?8, status_reason=?9"));
  upsert->Bind(1, agency.id())
      .Bind(2, agency.sector())
      .Bind(3, agency.jurisdiction())
      .Bind(4, agency.area())
      .Bind(5, agency.display_name())
      .Bind(6, int64_t{agency.public_authority() ? 1 : 0})
      .Bind(7, agency.privacy_officer_contact())
      .Bind(8, int64_t{agency.status() == v1::AGENCY_STATUS_UNSPECIFIED
                           ? v1::AGENCY_STATUS_ACTIVE
                           : agency.status()})
      .Bind(9, agency.status_reason());
  RETURN_IF_ERROR(upsert->Run());
  ASSIGN_OR_RETURN(
      StatementCache::Use clear,
      statements_->Get("DELETE FROM agency_certificates WHERE agency_id=?1"));
  RETURN_IF_ERROR(clear->Bind(1, agency.id()).Run());
  for (const std::string& serial : agency.certificate_serials()) {
    ASSIGN_OR_RETURN(StatementCache::Use bind,
                     statements_->Get("INSERT OR IGNORE INTO "
                                      "agency_certificates (agency_id, "
                                      "serial) VALUES (?1, ?2)"));
    RETURN_IF_ERROR(bind->Bind(1, agency.id()).Bind(2, serial).Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::SetAgencyStatus(const std::string& agency_id,
                                          v1::AgencyStatus status,
                                          const std::string& reason) {
  return RunAndWait([&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        StatementCache::Use update,
        statements_->Get(
            "UPDATE agencies SET status=?2, status_reason=?3 WHERE id=?1"));
    RETURN_IF_ERROR(update->Bind(1, agency_id)
                        .Bind(2, int64_t{status})
                        .Bind(3, reason)
                        .Run());
    if (sqlite3_changes(db_) == 0) {
      return absl::NotFoundError(
          absl::StrCat("no agency with id \"", agency_id, "\" is registered"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::Agency>> SqliteStore::ListAgencies() {
  std::vector<v1::Agency> out;
  RETURN_IF_ERROR(RunAndWait([&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        StatementCache::Use select,
        statements_->Get("SELECT id, sector, jurisdiction, area, display_name, "
                         "public_authority, privacy_officer_contact, status, "
                         "status_reason FROM agencies ORDER BY id"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      v1::Agency& a = out.emplace_back();
      a.set_id(select->Text(0));
      a.set_sector(select->Text(1));
      a.set_jurisdiction(select->Text(2));
      a.set_area(select->Text(3));
      a.set_display_name(select->Text(4));
      a.set_public_authority(select->Int(5) != 0);
      a.set_privacy_officer_contact(select->Text(6));
      a.set_status(static_cast<v1::AgencyStatus>(select->Int(7)));
      a.set_status_reason(select->Text(8));
    }
    ASSIGN_OR_RETURN(StatementCache::Use serials,
                     statements_->Get("SELECT agency_id, serial FROM "
                                      "agency_certificates ORDER BY agency_id, "
                                      "serial"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, serials->Step());
      if (!row) break;
      for (v1::Agency& a : out) {
        if (a.id() == serials->Text(0)) {
          a.add_certificate_serials(serials->Text(1));
        }
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::UpsertAuditor(const v1::Auditor& auditor) {
  return RunAndWait([&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        StatementCache::Use upsert,
        statements_->Get(
            "INSERT INTO auditors (id, scope, display_name) VALUES "
            "(?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET scope=?2, "
            "display_name=?3"));
    return upsert->Bind(1, auditor.id())
        .Bind(2, auditor.scope())
        .Bind(3, auditor.display_name())
        .Run();
  });
}

absl::StatusOr<std::vector<v1::Auditor>> SqliteStore::ListAuditors() {
  std::vector<v1::Auditor> out;
  RETURN_IF_ERROR(RunAndWait([&]() -> absl::Status {
    ASSIGN_OR_RETURN(StatementCache::Use select,
                     statements_->Get("SELECT id, scope, display_name FROM "
                                      "auditors ORDER BY id"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      v1::Auditor& a = out.emplace_back();
      a.set_id(select->Text(0));
      a.set_scope(select->Text(1));
      a.set_display_name(select->Text(2));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteStore::UpsertRoute(const v1::Route& route) {
  return RunAndWait([&] { return UpsertRouteLocked(route); });
}

absl::Status SqliteStore::UpsertRouteLocked(const v1::Route& route) {
  ASSIGN_OR_RETURN(
      StatementCache::Use upsert,
      statements_->Get("INSERT INTO routes (sector, area, agency_id) VALUES "
                       "(?1, ?2, ?3) ON CONFLICT(sector, area) DO UPDATE SET "
                       "agency_id=?3"));
  absl::Status s = upsert->Bind(1, route.sector())
                       .Bind(2, route.area())
                       .Bind(3, route.agency_id())
                       .Run();
  if (!s.ok() &&
      (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_FOREIGNKEY)) {
    return absl::NotFoundError(absl::StrCat(
        "route ", route.sector(), " in ", route.area(), " names agency \"",
        route.agency_id(), "\", which is not registered"));
  }
  return s;
}

absl::Status SqliteStore::RemoveRouteLocked(const v1::Route& route) {
  ASSIGN_OR_RETURN(
      StatementCache::Use remove,
      statements_->Get("DELETE FROM routes WHERE sector=?1 AND area=?2"));
  RETURN_IF_ERROR(remove->Bind(1, route.sector()).Bind(2, route.area()).Run());
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("no route for sector \"",
                                            route.sector(), "\" in area \"",
                                            route.area(), "\""));
  }
  return absl::OkStatus();
}

void SqliteStore::CommitRegistryChange(RegistryChange change,
                                       StoreDone<uint64_t> done) {
  auto in = std::make_shared<RegistryChange>(std::move(change));
  SubmitFor<uint64_t>(
      [this, in](uint64_t* sequence) -> absl::Status {
        if (in->agency && in->agency_is_new) {
          ASSIGN_OR_RETURN(
              StatementCache::Use exists,
              statements_->Get("SELECT 1 FROM agencies WHERE id=?1"));
          exists->Bind(1, in->agency->id());
          ASSIGN_OR_RETURN(bool found, exists->Step());
          if (found) {
            return absl::AlreadyExistsError(absl::StrCat(
                "agency \"", in->agency->id(), "\" is already registered"));
          }
        }
        if (in->agency) RETURN_IF_ERROR(UpsertAgencyLocked(*in->agency));
        if (in->route) RETURN_IF_ERROR(UpsertRouteLocked(*in->route));
        if (in->removed_route) {
          RETURN_IF_ERROR(RemoveRouteLocked(*in->removed_route));
        }
        v1::LogEntry entry = in->entry;
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        *sequence = entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::RememberCertificate(SeenCertificate c, StoreDone<bool> done) {
  SubmitFor<bool>(
      [this, c = std::move(c)](bool* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use upsert,
            statements_->Get("INSERT INTO certificates_seen (serial, subject, "
                             "not_after, last_seen) VALUES (?1, ?2, ?3, ?4) "
                             "ON CONFLICT(serial) DO UPDATE SET last_seen=?4"));
        RETURN_IF_ERROR(upsert->Bind(1, c.serial)
                            .Bind(2, c.subject)
                            .Bind(3, absl::ToUnixMicros(c.not_after))
                            .Bind(4, absl::ToUnixMicros(c.last_seen))
                            .Run());
        *out = true;
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::SeenCertificatesValidAt(
    absl::Time now, StoreDone<std::vector<SeenCertificate>> done) {
  SubmitFor<std::vector<SeenCertificate>>(
      [this, now](std::vector<SeenCertificate>* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            reader_statements_->Get(
                "SELECT serial, subject, not_after, last_seen FROM "
                "certificates_seen WHERE not_after >= ?1 ORDER BY "
                "not_after, serial"));
        select->Bind(1, absl::ToUnixMicros(now));
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          SeenCertificate& c = out->emplace_back();
          c.serial = select->Text(0);
          c.subject = select->Text(1);
          c.not_after = absl::FromUnixMicros(select->Int(2));
          c.last_seen = absl::FromUnixMicros(select->Int(3));
        }
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

absl::StatusOr<std::vector<v1::Route>> SqliteStore::ListRoutes() {
  std::vector<v1::Route> out;
  RETURN_IF_ERROR(RunAndWait([&]() -> absl::Status {
    ASSIGN_OR_RETURN(StatementCache::Use select,
                     statements_->Get("SELECT sector, area, agency_id FROM "
                                      "routes ORDER BY sector, area"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      v1::Route& r = out.emplace_back();
      r.set_sector(select->Text(0));
      r.set_area(select->Text(1));
      r.set_agency_id(select->Text(2));
    }
    return absl::OkStatus();
  }));
  return out;
}

// The disclosure log, for auditors.

void SqliteStore::LatestTreeHead(StoreDone<v1::TreeHead> done) {
  SubmitFor<v1::TreeHead>(
      [this](v1::TreeHead* out) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<v1::TreeHead> head,
                         reader_log_->LatestHead());
        if (!head.has_value()) {
          return absl::FailedPreconditionError(
              "the broker has not signed a tree head yet");
        }
        *out = std::move(*head);
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void SqliteStore::ReadLog(LogQuery query, StoreDone<LogPage> done) {
  SubmitFor<LogPage>(
      [this, query = std::move(query)](LogPage* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, reader_log_->Read(query));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void SqliteStore::ProveInclusion(uint64_t sequence, uint64_t size,
                                 StoreDone<v1::InclusionProof> done) {
  SubmitFor<v1::InclusionProof>(
      [this, sequence, size](v1::InclusionProof* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, reader_log_->ProveInclusion(sequence, size));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void SqliteStore::ProveConsistency(uint64_t first_size, uint64_t second_size,
                                   StoreDone<v1::ConsistencyProof> done) {
  SubmitFor<v1::ConsistencyProof>(
      [this, first_size,
       second_size](v1::ConsistencyProof* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            *out, reader_log_->ProveConsistency(first_size, second_size));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void SqliteStore::ListOverrideReviews(
    std::optional<std::vector<std::string>> scope, bool include_reviewed,
    StoreDone<std::vector<v1::OverrideReview>> done) {
  SubmitFor<std::vector<v1::OverrideReview>>(
      [this, scope = std::move(scope),
       include_reviewed](std::vector<v1::OverrideReview>* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, reader_log_->Overrides(scope, include_reviewed));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void SqliteStore::ReviewOverride(OverrideReviewChange change,
                                 StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, change = std::move(change)](uint64_t* out) mutable {
        RETURN_IF_ERROR(log_->PrepareReview(&change));
        RETURN_IF_ERROR(AppendLogLocked(&change.entry));
        *out = change.entry.sequence();
        return log_->SaveReview(change, *out);
      },
      std::move(done));
}

}  // namespace liaison
