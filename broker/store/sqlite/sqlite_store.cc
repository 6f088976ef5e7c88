#include "broker/store/sqlite/sqlite_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/log/message_util.h"
#include "broker/store/sqlite/sqlite_log.h"
#include "broker/store/sqlite/sqlite_query.h"

namespace liaison {
namespace {

// Schema migrations, applied in order. Entry i moves the file from version i
// to version i + 1 and is never edited once released: add a new entry.
const char* const kMigrations[] = {
    // 1: the registry.
    R"sql(
    CREATE TABLE agencies (
      id                      TEXT PRIMARY KEY,
      sector                  TEXT NOT NULL,
      jurisdiction            TEXT NOT NULL DEFAULT '',
      area                    TEXT NOT NULL DEFAULT '',
      display_name            TEXT NOT NULL DEFAULT '',
      public_authority        INTEGER NOT NULL DEFAULT 1,
      privacy_officer_contact TEXT NOT NULL DEFAULT '',
      status                  INTEGER NOT NULL,
      status_reason           TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE agency_certificates (
      agency_id TEXT NOT NULL REFERENCES agencies(id) ON DELETE CASCADE,
      serial    TEXT NOT NULL,
      PRIMARY KEY (agency_id, serial)
    );
    CREATE TABLE auditors (
      id           TEXT PRIMARY KEY,
      scope        TEXT NOT NULL,
      display_name TEXT NOT NULL DEFAULT ''
    );
    )sql",
    // 2: routing, cases, referrals, inboxes, idempotency and the log.
    // Times are microseconds since the Unix epoch.
    R"sql(
    CREATE TABLE routes (
      sector    TEXT NOT NULL,
      area      TEXT NOT NULL,
      agency_id TEXT NOT NULL REFERENCES agencies(id),
      PRIMARY KEY (sector, area)
    );
    CREATE TABLE cases (
      case_id           TEXT PRIMARY KEY,
      manager_agency_id TEXT NOT NULL,
      opened_by         TEXT NOT NULL,
      opened_at         INTEGER NOT NULL
    );
    CREATE TABLE case_agencies (
      case_id     TEXT NOT NULL REFERENCES cases(case_id),
      agency_id   TEXT NOT NULL,
      reason      TEXT NOT NULL,
      attached_at INTEGER NOT NULL,
      PRIMARY KEY (case_id, agency_id)
    );
    CREATE TABLE case_handovers (
      case_id        TEXT NOT NULL REFERENCES cases(case_id),
      seq            INTEGER NOT NULL,
      from_agency_id TEXT NOT NULL,
      to_agency_id   TEXT NOT NULL,
      body           BLOB NOT NULL,
      PRIMARY KEY (case_id, seq)
    );
    CREATE TABLE referrals (
      referral_id         TEXT PRIMARY KEY,
      case_id             TEXT NOT NULL REFERENCES cases(case_id),
      sender_agency_id    TEXT NOT NULL,
      recipient_agency_id TEXT NOT NULL,
      status              INTEGER NOT NULL,
      body                BLOB NOT NULL,
      -- When an urgent referral must be acknowledged by; 0 for routine.
      deadline_at         INTEGER NOT NULL DEFAULT 0,
      escalated           INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX referrals_deadline ON referrals (escalated, deadline_at)
      WHERE deadline_at > 0;
    -- state: 0 pending, 1 acknowledged, 2 expired.
    CREATE TABLE inbox (
      seq              INTEGER PRIMARY KEY AUTOINCREMENT,
      message_id       TEXT NOT NULL UNIQUE,
      agency_id        TEXT NOT NULL,
      sender_agency_id TEXT NOT NULL,
      referral_id      TEXT NOT NULL,
      body             BLOB NOT NULL,
      enqueued_at      INTEGER NOT NULL,
      expires_at       INTEGER NOT NULL,
      lease_until      INTEGER NOT NULL DEFAULT 0,
      attempts         INTEGER NOT NULL DEFAULT 0,
      state            INTEGER NOT NULL DEFAULT 0,
      acked_at         INTEGER
    );
    CREATE INDEX inbox_pending ON inbox (agency_id, state, seq);
    CREATE INDEX inbox_expiry ON inbox (state, expires_at);
    CREATE TABLE idempotency (
      agency_id TEXT NOT NULL,
      key       TEXT NOT NULL,
      digest    TEXT NOT NULL,
      response  BLOB NOT NULL,
      PRIMARY KEY (agency_id, key)
    );
    CREATE TABLE log_entries (
      seq   INTEGER PRIMARY KEY,
      entry BLOB NOT NULL
    );
    )sql",
    // 3: the log's search index, Merkle nodes, signed heads and override
    // reviews; entries already written are indexed by the migration.
    sqlite::kLogSchema,
    // 4: the subject of each case (by pseudonym, so summaries and requests
    // citing a case must be about its subject) and summary requests.
    // answered_at is 0 while a request is open.
    R"sql(
    ALTER TABLE cases ADD COLUMN subject_pseudonym TEXT NOT NULL DEFAULT '';
    CREATE TABLE summary_requests (
      request_id          TEXT PRIMARY KEY,
      requester_agency_id TEXT NOT NULL,
      holder_agency_id    TEXT NOT NULL,
      case_id             TEXT NOT NULL,
      relationship        INTEGER NOT NULL,
      body                BLOB NOT NULL,
      created_at          INTEGER NOT NULL,
      answered_at         INTEGER NOT NULL DEFAULT 0
    );
    )sql",
    // 5: the consent registry, and which agency received which message
    // under which consent (for recall notices). withdrawn_at is 0 while a
    // consent is in force.
    R"sql(
    CREATE TABLE consents (
      consent_id        TEXT PRIMARY KEY,
      recorded_by       TEXT NOT NULL,
      subject_pseudonym TEXT NOT NULL,
      refused           INTEGER NOT NULL,
      body              BLOB NOT NULL,
      withdrawn_at      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX consents_subject ON consents (subject_pseudonym, refused);
    CREATE TABLE consent_uses (
      consent_id TEXT NOT NULL REFERENCES consents(consent_id),
      agency_id  TEXT NOT NULL,
      message_id TEXT NOT NULL,
      PRIMARY KEY (consent_id, message_id)
    );
    )sql",
    // 6: client certificates the broker has seen, for expiry reports.
    // Times are microseconds since the Unix epoch.
    R"sql(
    CREATE TABLE certificates_seen (
      serial    TEXT PRIMARY KEY,
      subject   TEXT NOT NULL,
      not_after INTEGER NOT NULL,
      last_seen INTEGER NOT NULL
    );
    CREATE INDEX certificates_seen_expiry ON certificates_seen (not_after);
    )sql",
    // 7: override statements, sealed outside the log by their digest.
    R"sql(
    CREATE TABLE sealed_statements (
      digest    TEXT PRIMARY KEY,
      statement TEXT NOT NULL
    );
    -- When each override's review is due; escalated once overdue.
    CREATE TABLE override_deadlines (
      seq          INTEGER PRIMARY KEY,
      actor_agency TEXT NOT NULL,
      review_by    INTEGER NOT NULL,
      escalated    INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX override_deadlines_due ON override_deadlines
      (escalated, review_by);
    )sql",
};
constexpr int kLogIndexVersion = 3;

// Page cache of each connection: 16 MiB (negative: KiB).
constexpr char kCacheSizePragma[] = "PRAGMA cache_size=-16384";

constexpr int kInboxAcknowledged = 1;

// The registry id of the agency a log entry's actor URI names; the URI
// itself for anyone else.
std::string AgencyOfActor(const std::string& actor) {
  absl::StatusOr<PrincipalName> name = ParsePrincipalUri(actor);
  if (name.ok() && name->kind == v1::PRINCIPAL_KIND_AGENCY) return name->id;
  return actor;
}

}  // namespace

using sqlite::ParseBlob;
using sqlite::Query;
using sqlite::SqlError;
using sqlite::StatementCache;

int SqliteStore::LatestSchemaVersion() {
  return static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path is empty");
  }
  if (options.rules == nullptr) {
    return absl::InvalidArgumentError("store opened without the broker's rules");
  }
  std::unique_ptr<sqlite::FilesVfs> vfs;
  if (options.files != nullptr) {
    ASSIGN_OR_RETURN(vfs, sqlite::FilesVfs::Register(options.files));
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      options.path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      vfs ? vfs->name() : nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open store ", options.path, ": ", message));
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(db, std::move(vfs), options));
  // WAL with synchronous=FULL: a committed transaction survives power loss.
  absl::Status s = store->Exec("PRAGMA journal_mode=WAL");
  if (s.ok()) s = store->Exec("PRAGMA synchronous=FULL");
  if (s.ok()) s = store->Exec("PRAGMA foreign_keys=ON");
  // The single writer's pages stay in memory: with SQLite's default 2 MiB
  // cache the commit thread spent most of its time re-reading pages from
  // the OS.
  if (s.ok()) s = store->Exec(kCacheSizePragma);
  if (s.ok()) s = store->Migrate();
  if (s.ok()) {
    absl::StatusOr<uint64_t> size = store->log_->Size();
    s = size.status();
    if (s.ok()) store->appender_.StartAt(*size);
  }
  if (s.ok()) s = store->SignHeadIfBehind();
  if (s.ok()) s = store->OpenReader(options.path, options.busy_timeout_ms);
  if (!s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("store ", options.path, ": ", s.message()));
  }
  store->committer_ = std::thread([s = store.get()] { s->CommitLoop(); });
  store->reader_ = std::thread([s = store.get()] { s->ReadLoop(); });
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
      statements_(std::make_unique<sqlite::StatementCache>(db)) {}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (committer_.joinable()) committer_.join();
  if (reader_.joinable()) reader_.join();
  // Statements first: a connection with one unfinalized does not close.
  reader_statements_.reset();
  statements_.reset();
  reader_log_.reset();
  log_.reset();
  sqlite3_close_v2(reader_db_);
  sqlite3_close_v2(db_);
}

absl::Status SqliteStore::OpenReader(const std::string& path,
                                     int busy_timeout_ms) {
  const int rc =
      sqlite3_open_v2(path.c_str(), &reader_db_,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, VfsName());
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open a reader on the store: ",
        reader_db_ ? sqlite3_errmsg(reader_db_) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(reader_db_, busy_timeout_ms);
  sqlite3_exec(reader_db_, kCacheSizePragma, nullptr, nullptr, nullptr);
  reader_log_ = std::make_unique<sqlite::LogTables>(reader_db_);
  reader_statements_ = std::make_unique<sqlite::StatementCache>(reader_db_);
  return absl::OkStatus();
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
  ASSIGN_OR_RETURN(StatementCache::Use version,
                   statements_->Get("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, version->Step());
  if (!row) return SqlError(db_, "read schema version");
  const int current = static_cast<int>(version->Int(0));
  const int latest = LatestSchemaVersion();
  if (current > latest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "schema version ", current, " is newer than this broker supports (",
        latest, "); run a broker at least as new as the one that wrote it"));
  }
  for (int v = current; v < latest; ++v) {
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status s = Exec(kMigrations[v]);
    if (s.ok()) {
      s = Exec(absl::StrCat("PRAGMA user_version=", v + 1).c_str());
    }
    if (s.ok() && v + 1 == kLogIndexVersion) s = log_->IndexExisting();
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

template <typename T>
void SqliteStore::SubmitFor(std::function<absl::Status(T*)> run,
                            StoreDone<T> done, bool read) {
  auto out = std::make_shared<T>();
  auto op = [run = std::move(run), out] { return run(out.get()); };
  auto finish = [out, done = std::move(done)](absl::Status s) {
    if (!s.ok()) {
      done(s);
    } else {
      done(std::move(*out));
    }
  };
  if (read) {
    SubmitRead(std::move(op), std::move(finish));
  } else {
    Submit(std::move(op), std::move(finish));
  }
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
    // One snapshot per read: a head and the nodes under it agree.
    char* error = nullptr;
    absl::Status s;
    if (sqlite3_exec(reader_db_, "BEGIN", nullptr, nullptr, &error) !=
        SQLITE_OK) {
      s = absl::UnavailableError(
          absl::StrCat("cannot read the store: ", error ? error : "?"));
      sqlite3_free(error);
    } else {
      s = read.run();
      sqlite3_exec(reader_db_, "COMMIT", nullptr, nullptr, nullptr);
    }
    read.done(s);
  }
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
    std::vector<absl::Status> results(group.size());
    const uint64_t log_size_before = appender_.size();
    absl::Status commit = ExecCached("BEGIN IMMEDIATE");
    if (commit.ok()) {
      for (size_t i = 0; i < group.size(); ++i) {
        commit = ExecCached("SAVEPOINT op");
        if (!commit.ok()) break;
        const uint64_t log_size_at_op = appender_.size();
        results[i] = group[i].run();
        if (!results[i].ok()) {
          commit = ExecCached("ROLLBACK TO op");
          appender_.RewindTo(log_size_at_op);
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
    if (!commit.ok()) appender_.RewindTo(log_size_before);
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

absl::StatusOr<uint64_t> SqliteStore::CommitRegistryChange(
    RegistryChange change) {
  uint64_t sequence = 0;
  absl::Status committed = RunAndWait([&]() -> absl::Status {
    if (change.agency && change.agency_is_new) {
      ASSIGN_OR_RETURN(StatementCache::Use exists,
                       statements_->Get("SELECT 1 FROM agencies WHERE id=?1"));
      exists->Bind(1, change.agency->id());
      ASSIGN_OR_RETURN(bool found, exists->Step());
      if (found) {
        return absl::AlreadyExistsError(absl::StrCat(
            "agency \"", change.agency->id(), "\" is already registered"));
      }
    }
    if (change.agency) RETURN_IF_ERROR(UpsertAgencyLocked(*change.agency));
    if (change.route) RETURN_IF_ERROR(UpsertRouteLocked(*change.route));
    if (change.removed_route) {
      RETURN_IF_ERROR(RemoveRouteLocked(*change.removed_route));
    }
    RETURN_IF_ERROR(AppendLogLocked(&change.entry));
    sequence = change.entry.sequence();
    return absl::OkStatus();
  });
  if (!committed.ok()) return committed;
  return sequence;
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

// The message path. The helpers below run on the commit thread.

absl::Status SqliteStore::AppendLogLocked(v1::LogEntry* entry) {
  RETURN_IF_ERROR(appender_.Append(*log_, entry));
  if (entry->has_review_by() && entry->allowed()) {
    ASSIGN_OR_RETURN(
        StatementCache::Use insert,
        statements_->Get("INSERT INTO override_deadlines (seq, actor_agency, "
                         "review_by) VALUES (?1, ?2, ?3)"));
    RETURN_IF_ERROR(insert->Bind(1, static_cast<int64_t>(entry->sequence()))
                        .Bind(2, AgencyOfActor(entry->actor()))
                        .Bind(3, TimeOf(entry->review_by()))
                        .Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::EnqueueLocked(const std::string& agency_id,
                                        const std::string& sender_agency_id,
                                        const std::string& referral_id,
                                        const v1::InboxMessage& message,
                                        absl::Time expires_at) {
  ASSIGN_OR_RETURN(
      StatementCache::Use insert,
      statements_->Get("INSERT INTO inbox (message_id, agency_id, "
                       "sender_agency_id, referral_id, body, enqueued_at, "
                       "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  return insert->Bind(1, message.message_id())
      .Bind(2, agency_id)
      .Bind(3, sender_agency_id)
      .Bind(4, referral_id)
      .BindBlob(5, message.SerializeAsString())
      .Bind(6, absl::FromUnixSeconds(message.enqueued_at().seconds()) +
                   absl::Nanoseconds(message.enqueued_at().nanos()))
      .Bind(7, expires_at)
      .Run();
}

absl::StatusOr<v1::Referral> SqliteStore::LoadReferral(
    const std::string& referral_id) {
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT body FROM referrals WHERE "
                                    "referral_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, referral_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat(
        "no referral \"", referral_id, "\" that your agency is a party to"));
  }
  return ParseBlob<v1::Referral>(select->Blob(0), "referral");
}

absl::Status SqliteStore::SaveReferral(const v1::Referral& referral,
                                       absl::Time deadline) {
  ASSIGN_OR_RETURN(
      StatementCache::Use upsert,
      statements_->Get(
          "INSERT INTO referrals (referral_id, case_id, sender_agency_id, "
          "recipient_agency_id, status, body, deadline_at) VALUES "
          "(?1,?2,?3,?4,?5,?6,?7) "
          "ON CONFLICT(referral_id) DO UPDATE SET status=?5, body=?6"));
  upsert->Bind(7, deadline == absl::InfiniteFuture()
                      ? int64_t{0}
                      : absl::ToUnixMicros(deadline));
  return upsert->Bind(1, referral.referral_id())
      .Bind(2, referral.case_id())
      .Bind(3, referral.sender_agency_id())
      .Bind(4, referral.recipient_agency_id())
      .Bind(5, int64_t{referral.status()})
      .BindBlob(6, referral.SerializeAsString())
      .Run();
}

void SqliteStore::CommitReferral(NewReferral referral,
                                 StoreDone<v1::SendReferralResponse> done) {
  auto in = std::make_shared<NewReferral>(std::move(referral));
  SubmitFor<v1::SendReferralResponse>(
      [this, in](v1::SendReferralResponse* out) -> absl::Status {
        // A retry of a send that already committed returns its answer.
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in->sender_agency_id, in->idempotency_key,
                                     in->request_digest, "referral"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, ParseBlob<v1::SendReferralResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        const v1::Referral& r = in->referral;
        const absl::Time now =
            absl::FromUnixSeconds(r.history(0).at().seconds());
        if (in->opens_case) {
          ASSIGN_OR_RETURN(StatementCache::Use open_case,
                           statements_->Get("INSERT INTO cases (case_id, "
                                            "manager_agency_id, opened_by, "
                                            "opened_at, subject_pseudonym) "
                                            "VALUES (?1,?2,?3,?4,?5)"));
          RETURN_IF_ERROR(open_case->Bind(1, r.case_id())
                              .Bind(2, r.recipient_agency_id())
                              .Bind(3, r.sender_agency_id())
                              .Bind(4, now)
                              .Bind(5, in->disclosure.subject_pseudonym())
                              .Run());
          ASSIGN_OR_RETURN(
              StatementCache::Use attach,
              statements_->Get("INSERT INTO case_agencies "
                               "(case_id, agency_id, reason, "
                               "attached_at) VALUES (?1,?2,?3,?4)"));
          RETURN_IF_ERROR(
              attach->Bind(1, r.case_id())
                  .Bind(2, r.sender_agency_id())
                  .Bind(3, "opened the case with referral " + r.referral_id())
                  .Bind(4, now)
                  .Run());
        } else {
          RETURN_IF_ERROR(CheckCaseMember(r.sender_agency_id(), r.case_id(),
                                          in->disclosure.subject_pseudonym()));
        }
        ASSIGN_OR_RETURN(StatementCache::Use attach_recipient,
                         statements_->Get("INSERT OR IGNORE INTO case_agencies "
                                          "(case_id, agency_id, reason, "
                                          "attached_at) VALUES (?1,?2,?3,?4)"));
        RETURN_IF_ERROR(attach_recipient->Bind(1, r.case_id())
                            .Bind(2, r.recipient_agency_id())
                            .Bind(3, "recipient of referral " + r.referral_id())
                            .Bind(4, now)
                            .Run());
        RETURN_IF_ERROR(SaveReferral(r, in->acknowledge_by));
        v1::LogEntry entry = in->disclosure;
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        RETURN_IF_ERROR(EnqueueLocked(r.recipient_agency_id(),
                                      r.sender_agency_id(), r.referral_id(),
                                      in->delivery, in->expires_at));
        RETURN_IF_ERROR(RecordConsentUseLocked(entry, r.recipient_agency_id(),
                                               in->delivery.message_id()));
        RETURN_IF_ERROR(
            EnqueueNoticesLocked(in->notices, r.referral_id(), in->expires_at));
        *out = in->response;
        out->set_log_sequence(entry.sequence());
        return RememberRequest(in->sender_agency_id, in->idempotency_key,
                               in->request_digest, out->SerializeAsString());
      },
      std::move(done));
}

absl::StatusOr<std::optional<std::string>> SqliteStore::SeenRequest(
    const std::string& agency_id, const std::string& key,
    const std::string& digest, absl::string_view what) {
  ASSIGN_OR_RETURN(StatementCache::Use seen,
                   statements_->Get("SELECT digest, response FROM idempotency "
                                    "WHERE agency_id=?1 AND key=?2"));
  ASSIGN_OR_RETURN(bool row, seen->Bind(1, agency_id).Bind(2, key).Step());
  if (!row) return std::optional<std::string>();
  if (seen->Text(0) != digest) {
    return absl::AlreadyExistsError(absl::StrCat(
        "idempotency key \"", key, "\" was already used for a different ", what,
        "; use a new key for a new ", what));
  }
  return std::optional<std::string>(seen->Blob(1));
}

absl::Status SqliteStore::RememberRequest(const std::string& agency_id,
                                          const std::string& key,
                                          const std::string& digest,
                                          const std::string& response) {
  ASSIGN_OR_RETURN(StatementCache::Use remember,
                   statements_->Get("INSERT INTO idempotency (agency_id, key, "
                                    "digest, response) VALUES (?1,?2,?3,?4)"));
  return remember->Bind(1, agency_id)
      .Bind(2, key)
      .Bind(3, digest)
      .BindBlob(4, response)
      .Run();
}

void SqliteStore::RecordManualDisclosure(ManualDisclosure disclosure,
                                         StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this,
       in = std::move(disclosure)](uint64_t* out) mutable -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in.agency_id, in.idempotency_key,
                                     in.request_digest, "manual disclosure"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              v1::RecordManualDisclosureResponse response,
              ParseBlob<v1::RecordManualDisclosureResponse>(*seen, "response"));
          *out = response.log_sequence();
          return absl::OkStatus();
        }
        if (!in.case_id.empty()) {
          RETURN_IF_ERROR(LoadCase(in.agency_id, in.case_id).status());
        }
        RETURN_IF_ERROR(AppendLogLocked(&in.entry));
        *out = in.entry.sequence();
        v1::RecordManualDisclosureResponse response;
        response.set_log_sequence(*out);
        return RememberRequest(in.agency_id, in.idempotency_key,
                               in.request_digest, response.SerializeAsString());
      },
      std::move(done));
}

void SqliteStore::AppendLog(v1::LogEntry entry, StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, entry = std::move(entry)](uint64_t* sequence) mutable {
        RETURN_IF_ERROR(AppendLogLocked(&entry));
        *sequence = entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::LeaseInbox(const std::string& agency_id, absl::Time now,
                             absl::Duration lease, int max,
                             StoreDone<InboxLease> done) {
  SubmitFor<InboxLease>(
      [this, agency_id, now, lease, max](InboxLease* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            // By the agency's own pending messages: without the hint SQLite
            // chose the expiry index and scanned every agency's pending
            // messages, so one agency's backlog slowed every delivery.
            statements_->Get("SELECT seq, body, attempts FROM inbox INDEXED "
                             "BY inbox_pending WHERE agency_id=?1 AND "
                             "state=0 AND expires_at>?2 AND lease_until<=?2 "
                             "ORDER BY seq LIMIT ?3"));
        select->Bind(1, agency_id).Bind(2, now).Bind(3, int64_t{max});
        std::vector<int64_t> seqs;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          ASSIGN_OR_RETURN(
              v1::InboxMessage m,
              ParseBlob<v1::InboxMessage>(select->Blob(1), "inbox message"));
          m.set_delivery_attempt(static_cast<uint32_t>(select->Int(2) + 1));
          const absl::Time until = now + lease;
          m.mutable_lease_expires_at()->set_seconds(absl::ToUnixSeconds(until));
          seqs.push_back(select->Int(0));
          out->messages.push_back(std::move(m));
        }
        for (int64_t seq : seqs) {
          ASSIGN_OR_RETURN(
              StatementCache::Use update,
              statements_->Get("UPDATE inbox SET lease_until=?2, "
                               "attempts=attempts+1 WHERE seq=?1"));
          RETURN_IF_ERROR(update->Bind(1, seq).Bind(2, now + lease).Run());
        }
        ASSIGN_OR_RETURN(StatementCache::Use next,
                         statements_->Get("SELECT MIN(lease_until) FROM inbox "
                                          "INDEXED BY inbox_pending WHERE "
                                          "agency_id=?1 AND state=0 AND "
                                          "lease_until>?2 AND expires_at>?2"));
        ASSIGN_OR_RETURN(bool row,
                         next->Bind(1, agency_id).Bind(2, now).Step());
        if (row && !next->IsNull(0)) {
          out->next_lease_end = absl::FromUnixMicros(next->Int(0));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::AckMessage(const std::string& agency_id,
                             const std::string& message_id, absl::Time now,
                             v1::LogEntry delivery_entry,
                             v1::InboxMessage sender_update,
                             absl::Time update_expires_at,
                             StoreDone<std::string> done) {
  auto entry = std::make_shared<v1::LogEntry>(std::move(delivery_entry));
  auto update = std::make_shared<v1::InboxMessage>(std::move(sender_update));
  SubmitFor<std::string>(
      [this, agency_id, message_id, now, entry, update,
       update_expires_at](std::string* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get("SELECT state, referral_id, body FROM "
                             "inbox WHERE message_id=?1 AND "
                             "agency_id=?2"));
        ASSIGN_OR_RETURN(bool row,
                         select->Bind(1, message_id).Bind(2, agency_id).Step());
        if (!row) {
          return absl::NotFoundError(
              absl::StrCat("your inbox holds no message \"", message_id, "\""));
        }
        if (select->Int(0) == kInboxAcknowledged) return absl::OkStatus();
        const std::string referral_id = select->Text(1);
        ASSIGN_OR_RETURN(
            v1::InboxMessage message,
            ParseBlob<v1::InboxMessage>(select->Blob(2), "inbox message"));
        ASSIGN_OR_RETURN(StatementCache::Use ack,
                         statements_->Get("UPDATE inbox SET state=?3, "
                                          "acked_at=?4 WHERE message_id=?1 AND "
                                          "agency_id=?2"));
        RETURN_IF_ERROR(ack->Bind(1, message_id)
                            .Bind(2, agency_id)
                            .Bind(3, int64_t{kInboxAcknowledged})
                            .Bind(4, now)
                            .Run());
        if (!message.has_referral()) return absl::OkStatus();
        ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(referral_id));
        std::optional<v1::ReferralEvent> event =
            rules_->ApplyDelivery(agency_id, now, &referral);
        if (!event.has_value()) return absl::OkStatus();
        RETURN_IF_ERROR(SaveReferral(referral));
        entry->set_case_id(referral.case_id());
        entry->set_counterpart(referral.sender_agency_id());
        RETURN_IF_ERROR(AppendLogLocked(entry.get()));
        *update->mutable_referral_update() = *std::move(event);
        update->set_referral_id(referral_id);
        RETURN_IF_ERROR(EnqueueLocked(referral.sender_agency_id(), agency_id,
                                      referral_id, *update, update_expires_at));
        *told = referral.sender_agency_id();
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::GetReferral(const std::string& agency_id,
                              const std::string& referral_id,
                              StoreDone<v1::Referral> done) {
  SubmitFor<v1::Referral>(
      [this, agency_id, referral_id](v1::Referral* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadReferral(referral_id));
        if (out->sender_agency_id() != agency_id &&
            out->recipient_agency_id() != agency_id) {
          // Not a party: indistinguishable from a referral that does not
          // exist, so ids reveal nothing.
          return absl::NotFoundError(
              absl::StrCat("no referral \"", referral_id,
                           "\" that your agency is a party to"));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::ChangeReferral(ReferralChange change,
                                 StoreDone<v1::Referral> done) {
  auto in = std::make_shared<ReferralChange>(std::move(change));
  SubmitFor<v1::Referral>(
      [this, in](v1::Referral* out) -> absl::Status {
        ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(in->referral_id));
        if (referral.recipient_agency_id() != in->agency_id) {
          if (referral.sender_agency_id() == in->agency_id) {
            return absl::PermissionDeniedError(
                "only the recipient of a referral moves it through its "
                "lifecycle; the sender follows it in its inbox");
          }
          return absl::NotFoundError(
              absl::StrCat("no referral \"", in->referral_id,
                           "\" that your agency is a party to"));
        }
        RETURN_IF_ERROR(rules_->ApplyRecipientChange(in->event, &referral));
        RETURN_IF_ERROR(SaveReferral(referral));
        RETURN_IF_ERROR(AppendLogLocked(&in->feedback));
        if (in->update.has_value()) {
          *in->update->mutable_referral_update() = in->sender_event;
          in->update->set_referral_id(referral.referral_id());
          RETURN_IF_ERROR(EnqueueLocked(referral.sender_agency_id(),
                                        in->agency_id, referral.referral_id(),
                                        *in->update, in->update_expires_at));
          RETURN_IF_ERROR(RecordConsentUseLocked(in->feedback,
                                                 referral.sender_agency_id(),
                                                 in->update->message_id()));
        }
        *out = std::move(referral);
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::ExpireInbox(absl::Time now, absl::Duration notice_ttl,
                              int max,
                              StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl,
       max](std::vector<std::string>* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get("SELECT seq, message_id, agency_id, "
                             "sender_agency_id, referral_id FROM inbox WHERE "
                             "state=0 AND expires_at<=?1 ORDER BY seq "
                             "LIMIT ?2"));
        select->Bind(1, now).Bind(2, int64_t{max});
        struct Expired {
          int64_t seq;
          std::string message_id, recipient, sender, referral_id;
        };
        std::vector<Expired> expired;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          expired.push_back({select->Int(0), select->Text(1), select->Text(2),
                             select->Text(3), select->Text(4)});
        }
        for (const Expired& e : expired) {
          ASSIGN_OR_RETURN(StatementCache::Use mark,
                           statements_->Get("UPDATE inbox SET state=2 WHERE "
                                            "seq=?1"));
          RETURN_IF_ERROR(mark->Bind(1, e.seq).Run());
          if (e.sender.empty()) continue;  // a notice: nobody to tell
          RETURN_IF_ERROR(EnqueueLocked(
              e.sender, "", e.referral_id,
              rules_->NonDeliveryNotice(e.message_id, e.referral_id, e.recipient, now),
              now + notice_ttl));
          told->push_back(e.sender);
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::EscalateOverdue(absl::Time now, absl::Duration notice_ttl,
                                  int max,
                                  StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl,
       max](std::vector<std::string>* told) -> absl::Status {
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get(
                "SELECT r.referral_id, r.deadline_at, c.manager_agency_id "
                "FROM referrals r JOIN cases c ON c.case_id = r.case_id "
                "WHERE r.escalated=0 AND r.deadline_at>0 AND "
                "r.deadline_at<=?1 AND r.status IN (?2, ?3) "
                "ORDER BY r.deadline_at LIMIT ?4"));
        select->Bind(1, now)
            .Bind(2, int64_t{v1::REFERRAL_STATUS_SENT})
            .Bind(3, int64_t{v1::REFERRAL_STATUS_DELIVERED})
            .Bind(4, int64_t{max});
        struct Overdue {
          std::string referral_id;
          absl::Time deadline;
          std::string manager;
        };
        std::vector<Overdue> overdue;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          overdue.push_back({select->Text(0),
                             absl::FromUnixMicros(select->Int(1)),
                             select->Text(2)});
        }
        for (const Overdue& o : overdue) {
          ASSIGN_OR_RETURN(v1::Referral referral, LoadReferral(o.referral_id));
          ASSIGN_OR_RETURN(StatementCache::Use mark,
                           statements_->Get("UPDATE referrals SET escalated=1 "
                                            "WHERE referral_id=?1"));
          RETURN_IF_ERROR(mark->Bind(1, o.referral_id).Run());
          std::vector<std::string> to = {referral.sender_agency_id()};
          if (o.manager != referral.sender_agency_id()) {
            to.push_back(o.manager);
          }
          for (const std::string& agency : to) {
            RETURN_IF_ERROR(EnqueueLocked(
                agency, "", referral.referral_id(),
                rules_->EscalationNotice(referral, o.deadline, now), now + notice_ttl));
            told->push_back(agency);
          }
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::EscalateOverdueReviews(
    absl::Time now, absl::Duration notice_ttl, int max,
    StoreDone<std::vector<std::string>> done) {
  SubmitFor<std::vector<std::string>>(
      [this, now, notice_ttl,
       max](std::vector<std::string>* told) -> absl::Status {
        // Due, not escalated, and without a final outcome (a follow-up
        // outcome is not one).
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            statements_->Get(
                "SELECT d.seq, d.actor_agency, d.review_by FROM "
                "override_deadlines d LEFT JOIN override_reviews r ON "
                "r.seq = d.seq WHERE d.escalated=0 AND d.review_by<=?1 AND "
                "(r.outcome IS NULL OR r.outcome NOT IN (?2, ?3)) "
                "ORDER BY d.review_by LIMIT ?4"));
        select->Bind(1, now)
            .Bind(2, int64_t{v1::OverrideReview::OUTCOME_JUSTIFIED})
            .Bind(3, int64_t{v1::OverrideReview::OUTCOME_NOT_JUSTIFIED})
            .Bind(4, int64_t{max});
        struct Overdue {
          int64_t sequence;
          std::string agency;
          absl::Time review_by;
        };
        std::vector<Overdue> overdue;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          overdue.push_back({select->Int(0), select->Text(1),
                             absl::FromUnixMicros(select->Int(2))});
        }
        for (const Overdue& o : overdue) {
          ASSIGN_OR_RETURN(StatementCache::Use mark,
                           statements_->Get("UPDATE override_deadlines SET "
                                            "escalated=1 WHERE seq=?1"));
          RETURN_IF_ERROR(mark->Bind(1, o.sequence).Run());
          RETURN_IF_ERROR(EnqueueLocked(
              o.agency, "", "",
              rules_->OverdueReviewNotice(static_cast<uint64_t>(o.sequence),
                                  o.review_by, now),
              now + notice_ttl));
          told->push_back(o.agency);
        }
        return absl::OkStatus();
      },
      std::move(done));
}

absl::Status SqliteStore::CheckCaseMember(const std::string& agency_id,
                                          const std::string& case_id,
                                          const std::string& pseudonym) {
  ASSIGN_OR_RETURN(
      StatementCache::Use select,
      statements_->Get("SELECT c.subject_pseudonym FROM cases c JOIN "
                       "case_agencies a ON a.case_id=c.case_id WHERE "
                       "c.case_id=?1 AND a.agency_id=?2"));
  ASSIGN_OR_RETURN(bool row,
                   select->Bind(1, case_id).Bind(2, agency_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat(
        "no case \"", case_id,
        "\" that your agency is attached to; check the case id, or leave "
        "case_id empty"));
  }
  // Cases opened before subjects were recorded have none to compare.
  if (!select->Text(0).empty() && select->Text(0) != pseudonym) {
    return absl::InvalidArgumentError(absl::StrCat(
        "case ", case_id,
        " is about another person than the subject given; check the subject "
        "identifier or the case id"));
  }
  return absl::OkStatus();
}

void SqliteStore::CommitSummaryPush(SummaryPush push,
                                    StoreDone<v1::PushSummaryResponse> done) {
  auto in = std::make_shared<SummaryPush>(std::move(push));
  SubmitFor<v1::PushSummaryResponse>(
      [this, in](v1::PushSummaryResponse* out) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> seen,
                         SeenRequest(in->sender_agency_id, in->idempotency_key,
                                     in->request_digest, "summary push"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, ParseBlob<v1::PushSummaryResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        RETURN_IF_ERROR(CheckCaseMember(in->sender_agency_id, in->case_id,
                                        in->subject_pseudonym));
        for (SummaryPush::Outcome& o : in->outcomes) {
          RETURN_IF_ERROR(AppendLogLocked(&o.entry));
          if (o.delivery.has_value()) {
            RETURN_IF_ERROR(EnqueueLocked(o.agency_id, in->sender_agency_id, "",
                                          *o.delivery, in->expires_at));
            RETURN_IF_ERROR(RecordConsentUseLocked(o.entry, o.agency_id,
                                                   o.delivery->message_id()));
          }
        }
        RETURN_IF_ERROR(EnqueueNoticesLocked(in->notices, "", in->expires_at));
        *out = in->response;
        return RememberRequest(in->sender_agency_id, in->idempotency_key,
                               in->request_digest, out->SerializeAsString());
      },
      std::move(done));
}

void SqliteStore::CommitSummaryRequest(
    NewSummaryRequest request, StoreDone<v1::RequestSummaryResponse> done) {
  auto in = std::make_shared<NewSummaryRequest>(std::move(request));
  SubmitFor<v1::RequestSummaryResponse>(
      [this, in](v1::RequestSummaryResponse* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::optional<std::string> seen,
            SeenRequest(in->requester_agency_id, in->idempotency_key,
                        in->request_digest, "summary request"));
        if (seen.has_value()) {
          ASSIGN_OR_RETURN(
              *out, ParseBlob<v1::RequestSummaryResponse>(*seen, "response"));
          return absl::OkStatus();
        }
        if (!in->case_id.empty()) {
          RETURN_IF_ERROR(CheckCaseMember(in->requester_agency_id, in->case_id,
                                          in->subject_pseudonym));
        }
        const absl::Time now =
            absl::FromUnixSeconds(in->entry.time().seconds());
        ASSIGN_OR_RETURN(
            StatementCache::Use insert,
            statements_->Get("INSERT INTO summary_requests (request_id, "
                             "requester_agency_id, holder_agency_id, case_id, "
                             "relationship, body, created_at) VALUES "
                             "(?1,?2,?3,?4,?5,?6,?7)"));
        RETURN_IF_ERROR(insert->Bind(1, in->request.request_id())
                            .Bind(2, in->requester_agency_id)
                            .Bind(3, in->holder_agency_id)
                            .Bind(4, in->case_id)
                            .Bind(5, int64_t{in->legitimate_relationship})
                            .BindBlob(6, in->request.SerializeAsString())
                            .Bind(7, now)
                            .Run());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        RETURN_IF_ERROR(EnqueueLocked(in->holder_agency_id,
                                      in->requester_agency_id, "", in->delivery,
                                      in->expires_at));
        *out = in->response;
        return RememberRequest(in->requester_agency_id, in->idempotency_key,
                               in->request_digest, out->SerializeAsString());
      },
      std::move(done));
}

absl::StatusOr<StoredSummaryRequest> SqliteStore::LoadSummaryRequest(
    const std::string& holder_agency_id, const std::string& request_id) {
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT case_id, relationship, body, "
                                    "answered_at FROM summary_requests WHERE "
                                    "request_id=?1 AND holder_agency_id=?2"));
  ASSIGN_OR_RETURN(
      bool row, select->Bind(1, request_id).Bind(2, holder_agency_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no summary request \"", request_id,
                                            "\" was addressed to your agency"));
  }
  StoredSummaryRequest out;
  out.holder_agency_id = holder_agency_id;
  out.case_id = select->Text(0);
  out.legitimate_relationship = select->Int(1) != 0;
  ASSIGN_OR_RETURN(out.request, ParseBlob<v1::SummaryRequestReceived>(
                                    select->Blob(2), "summary request"));
  out.answered = select->Int(3) != 0;
  return out;
}

void SqliteStore::GetSummaryRequest(const std::string& holder_agency_id,
                                    const std::string& request_id,
                                    StoreDone<StoredSummaryRequest> done) {
  SubmitFor<StoredSummaryRequest>(
      [this, holder_agency_id,
       request_id](StoredSummaryRequest* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out,
                         LoadSummaryRequest(holder_agency_id, request_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::CommitSummaryAnswer(SummaryAnswer answer,
                                      StoreDone<uint64_t> done) {
  auto in = std::make_shared<SummaryAnswer>(std::move(answer));
  SubmitFor<uint64_t>(
      [this, in](uint64_t* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            StoredSummaryRequest stored,
            LoadSummaryRequest(in->holder_agency_id, in->request_id));
        if (stored.answered) {
          return absl::FailedPreconditionError(
              absl::StrCat("summary request ", in->request_id,
                           " was already answered; a request is answered "
                           "once"));
        }
        const absl::Time now =
            absl::FromUnixSeconds(in->entry.time().seconds());
        ASSIGN_OR_RETURN(
            StatementCache::Use mark,
            statements_->Get("UPDATE summary_requests SET "
                             "answered_at=?2 WHERE request_id=?1"));
        RETURN_IF_ERROR(mark->Bind(1, in->request_id).Bind(2, now).Run());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        RETURN_IF_ERROR(EnqueueLocked(in->requester_agency_id,
                                      in->holder_agency_id, "", in->delivery,
                                      in->expires_at));
        RETURN_IF_ERROR(RecordConsentUseLocked(
            in->entry, in->requester_agency_id, in->delivery.message_id()));
        RETURN_IF_ERROR(EnqueueNoticesLocked(in->notices, "", in->expires_at));
        *out = in->entry.sequence();
        return absl::OkStatus();
      },
      std::move(done));
}

absl::Status SqliteStore::EnqueueNoticesLocked(
    const std::vector<QueuedNotice>& notices, const std::string& referral_id,
    absl::Time expires_at) {
  for (const QueuedNotice& n : notices) {
    // No sender: the broker's own notices expire silently.
    RETURN_IF_ERROR(
        EnqueueLocked(n.agency_id, "", referral_id, n.message, expires_at));
  }
  return absl::OkStatus();
}

// The consent registry.

absl::StatusOr<StoredConsent> SqliteStore::LoadConsent(
    const std::string& consent_id, StatementCache* statements) {
  if (statements == nullptr) statements = statements_.get();
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements->Get("SELECT body, subject_pseudonym FROM "
                                   "consents WHERE consent_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, consent_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no consent \"", consent_id,
                                            "\" that your agency may see"));
  }
  StoredConsent out;
  ASSIGN_OR_RETURN(out.consent,
                   ParseBlob<v1::Consent>(select->Blob(0), "consent"));
  out.subject_pseudonym = select->Text(1);
  return out;
}

absl::Status SqliteStore::RecordConsentUseLocked(
    const v1::LogEntry& entry, const std::string& agency_id,
    const std::string& message_id) {
  if (!entry.allowed() || entry.consent_id().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT withdrawn_at FROM consents WHERE "
                                    "consent_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, entry.consent_id()).Step());
  if (!row || select->Int(0) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "consent \"", entry.consent_id(),
        "\" was withdrawn while the disclosure was being decided; nothing "
        "was disclosed"));
  }
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_->Get("INSERT OR IGNORE INTO consent_uses "
                                    "(consent_id, agency_id, message_id) "
                                    "VALUES (?1, ?2, ?3)"));
  return insert->Bind(1, entry.consent_id())
      .Bind(2, agency_id)
      .Bind(3, message_id)
      .Run();
}

void SqliteStore::RecordConsent(NewConsent consent,
                                StoreDone<v1::Consent> done) {
  auto in = std::make_shared<NewConsent>(std::move(consent));
  SubmitFor<v1::Consent>(
      [this, in](v1::Consent* out) -> absl::Status {
        if (!in->idempotency_key.empty()) {
          ASSIGN_OR_RETURN(std::optional<std::string> seen,
                           SeenRequest(in->agency_id, in->idempotency_key,
                                       in->request_digest, "consent"));
          if (seen.has_value()) {
            ASSIGN_OR_RETURN(StoredConsent first, LoadConsent(*seen));
            *out = std::move(first.consent);
            return absl::OkStatus();
          }
        }
        const v1::Consent& c = in->consent;
        ASSIGN_OR_RETURN(StatementCache::Use insert,
                         statements_->Get("INSERT INTO consents (consent_id, "
                                          "recorded_by, subject_pseudonym, "
                                          "refused, body) VALUES "
                                          "(?1,?2,?3,?4,?5)"));
        RETURN_IF_ERROR(insert->Bind(1, c.consent_id())
                            .Bind(2, c.recorded_by_agency_id())
                            .Bind(3, in->subject_pseudonym)
                            .Bind(4, int64_t{c.refused() ? 1 : 0})
                            .BindBlob(5, c.SerializeAsString())
                            .Run());
        RETURN_IF_ERROR(AppendLogLocked(&in->entry));
        *out = c;
        if (in->idempotency_key.empty()) return absl::OkStatus();
        // The remembered response is the consent's id.
        return RememberRequest(in->agency_id, in->idempotency_key,
                               in->request_digest, c.consent_id());
      },
      std::move(done));
}

void SqliteStore::GetConsent(const std::string& consent_id,
                             StoreDone<StoredConsent> done) {
  SubmitFor<StoredConsent>(
      [this, consent_id](StoredConsent* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadConsent(consent_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::LoadConsentFacts(const std::string& consent_id,
                                   const std::string& subject_pseudonym,
                                   StoreDone<ConsentFacts> done) {
  SubmitFor<ConsentFacts>(
      [this, consent_id, subject_pseudonym](ConsentFacts* out) -> absl::Status {
        if (!consent_id.empty()) {
          absl::StatusOr<StoredConsent> c =
              LoadConsent(consent_id, reader_statements_.get());
          if (c.ok()) {
            out->consent = *std::move(c);
          } else if (!absl::IsNotFound(c.status())) {
            return c.status();
          }
        }
        ASSIGN_OR_RETURN(
            StatementCache::Use select,
            reader_statements_->Get("SELECT body FROM consents WHERE "
                                    "subject_pseudonym=?1 AND refused=1 "
                                    "ORDER BY rowid"));
        select->Bind(1, subject_pseudonym);
        for (;;) {
          ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          ASSIGN_OR_RETURN(v1::Consent refusal,
                           ParseBlob<v1::Consent>(select->Blob(0), "consent"));
          out->refusals.push_back(std::move(refusal));
        }
        return absl::OkStatus();
      },
      // On the reader: what is decided with these facts then runs off the
      // commit thread, and the commit checks again that the consent was
      // not withdrawn meanwhile.
      std::move(done), /*read=*/true);
}

void SqliteStore::WithdrawConsent(ConsentWithdrawal withdrawal,
                                  StoreDone<WithdrawnConsent> done) {
  auto in = std::make_shared<ConsentWithdrawal>(std::move(withdrawal));
  SubmitFor<WithdrawnConsent>(
      [this, in](WithdrawnConsent* out) -> absl::Status {
        ASSIGN_OR_RETURN(StoredConsent stored, LoadConsent(in->consent_id));
        v1::Consent& c = stored.consent;
        if (c.has_withdrawn_at()) {
          out->consent = std::move(c);
          return absl::OkStatus();
        }
        c.mutable_withdrawn_at()->set_seconds(absl::ToUnixSeconds(in->at));
        c.set_withdrawal_reason(in->reason);
        ASSIGN_OR_RETURN(StatementCache::Use update,
                         statements_->Get("UPDATE consents SET body=?2, "
                                          "withdrawn_at=?3 WHERE "
                                          "consent_id=?1"));
        RETURN_IF_ERROR(update->Bind(1, in->consent_id)
                            .BindBlob(2, c.SerializeAsString())
                            .Bind(3, in->at)
                            .Run());
        ASSIGN_OR_RETURN(StatementCache::Use uses,
                         statements_->Get("SELECT agency_id, message_id FROM "
                                          "consent_uses WHERE consent_id=?1 "
                                          "ORDER BY agency_id, rowid"));
        uses->Bind(1, in->consent_id);
        std::vector<std::pair<std::string, std::vector<std::string>>> by_agency;
        for (;;) {
          ASSIGN_OR_RETURN(bool row, uses->Step());
          if (!row) break;
          if (by_agency.empty() || by_agency.back().first != uses->Text(0)) {
            by_agency.emplace_back(uses->Text(0), std::vector<std::string>());
          }
          by_agency.back().second.push_back(uses->Text(1));
        }
        StoreRules::RecallPlan plan =
            rules_->PlanRecalls(c, in->entry, by_agency, in->at);
        RETURN_IF_ERROR(AppendLogLocked(&plan.withdrawal));
        for (StoreRules::Recall& recall : plan.recalls) {
          RETURN_IF_ERROR(EnqueueLocked(recall.agency_id, "", "", recall.notice,
                                        in->notice_expires_at));
          RETURN_IF_ERROR(AppendLogLocked(&recall.entry));
          out->recalled.push_back(recall.agency_id);
        }
        out->consent = std::move(c);
        return absl::OkStatus();
      },
      std::move(done));
}

absl::StatusOr<v1::Case> SqliteStore::LoadCase(const std::string& agency_id,
                                               const std::string& case_id) {
  const absl::Status not_found = absl::NotFoundError(absl::StrCat(
      "no case \"", case_id, "\" that your agency is attached to"));
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_->Get("SELECT manager_agency_id FROM cases WHERE "
                                    "case_id=?1"));
  ASSIGN_OR_RETURN(bool row, select->Bind(1, case_id).Step());
  if (!row) return not_found;
  v1::Case out;
  out.set_case_id(case_id);
  out.set_manager_agency_id(select->Text(0));
  ASSIGN_OR_RETURN(
      StatementCache::Use agencies,
      statements_->Get("SELECT agency_id, reason, attached_at FROM "
                       "case_agencies WHERE case_id=?1 ORDER BY "
                       "attached_at, rowid"));
  agencies->Bind(1, case_id);
  bool attached = false;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, agencies->Step());
    if (!more) break;
    v1::CaseAgency* a = out.add_agencies();
    a->set_agency_id(agencies->Text(0));
    a->set_reason(agencies->Text(1));
    a->mutable_attached_at()->set_seconds(agencies->Int(2) / 1000000);
    attached = attached || a->agency_id() == agency_id;
  }
  if (!attached) return not_found;
  ASSIGN_OR_RETURN(StatementCache::Use handovers,
                   statements_->Get("SELECT body FROM case_handovers WHERE "
                                    "case_id=?1 ORDER BY seq"));
  handovers->Bind(1, case_id);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, handovers->Step());
    if (!more) break;
    ASSIGN_OR_RETURN(
        *out.add_handovers(),
        ParseBlob<v1::CaseHandover>(handovers->Blob(0), "case handover"));
  }
  return out;
}

void SqliteStore::GetCase(const std::string& agency_id,
                          const std::string& case_id,
                          StoreDone<v1::Case> done) {
  SubmitFor<v1::Case>(
      [this, agency_id, case_id](v1::Case* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, LoadCase(agency_id, case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteStore::HandOverCase(const std::string& agency_id,
                               const std::string& case_id,
                               v1::CaseHandover handover,
                               StoreDone<v1::Case> done) {
  auto h = std::make_shared<v1::CaseHandover>(std::move(handover));
  SubmitFor<v1::Case>(
      [this, agency_id, case_id, h](v1::Case* out) -> absl::Status {
        ASSIGN_OR_RETURN(v1::Case current, LoadCase(agency_id, case_id));
        if (current.manager_agency_id() != agency_id) {
          return absl::PermissionDeniedError(absl::StrCat(
              "only the case manager (\"", current.manager_agency_id(),
              "\") can hand the case over"));
        }
        bool attached = false;
        for (const v1::CaseAgency& a : current.agencies()) {
          attached = attached || a.agency_id() == h->to_agency_id();
        }
        if (!attached) {
          return absl::FailedPreconditionError(absl::StrCat(
              "agency \"", h->to_agency_id(), "\" is not attached to case ",
              case_id, "; a referral to it attaches it"));
        }
        h->set_from_agency_id(agency_id);
        ASSIGN_OR_RETURN(
            StatementCache::Use insert,
            statements_->Get("INSERT INTO case_handovers (case_id, "
                             "seq, from_agency_id, to_agency_id, "
                             "body) VALUES (?1, ?2, ?3, ?4, ?5)"));
        RETURN_IF_ERROR(insert->Bind(1, case_id)
                            .Bind(2, int64_t{current.handovers_size()})
                            .Bind(3, agency_id)
                            .Bind(4, h->to_agency_id())
                            .BindBlob(5, h->SerializeAsString())
                            .Run());
        ASSIGN_OR_RETURN(
            StatementCache::Use update,
            statements_->Get("UPDATE cases SET manager_agency_id=?2 "
                             "WHERE case_id=?1"));
        RETURN_IF_ERROR(
            update->Bind(1, case_id).Bind(2, h->to_agency_id()).Run());
        ASSIGN_OR_RETURN(*out, LoadCase(agency_id, case_id));
        return absl::OkStatus();
      },
      std::move(done));
}

}  // namespace liaison

namespace liaison {

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
