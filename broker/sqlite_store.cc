#include "broker/sqlite_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/status_macros.h"

namespace liaison {
namespace {

// Schema migrations, applied in order. Entry i moves the file from version i
// to version i + 1 and is never edited once released: add a new entry.
constexpr const char* kMigrations[] = {
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
};

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  std::string message = absl::StrCat(what, ": ", sqlite3_errmsg(db));
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    return absl::UnavailableError(message);
  }
  if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR) {
    return absl::ResourceExhaustedError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<Stmt> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return SqlError(db, "prepare");
  }
  return Stmt(stmt);
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* text = sqlite3_column_text(s, i);
  return text == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(text));
}

absl::Status StepDone(sqlite3* db, sqlite3_stmt* s, absl::string_view what) {
  if (sqlite3_step(s) != SQLITE_DONE) return SqlError(db, what);
  return absl::OkStatus();
}

}  // namespace

int SqliteStore::LatestSchemaVersion() {
  return static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path is empty");
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      options.path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open store ", options.path, ": ", message));
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  absl::MutexLock lock(&store->mu_);
  // WAL with synchronous=FULL: a committed transaction survives power loss.
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(store->Exec("PRAGMA foreign_keys=ON"));
  if (absl::Status s = store->Migrate(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("store ", options.path, ": ",
                                               s.message()));
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db) : db_(db) {}

SqliteStore::~SqliteStore() {
  absl::MutexLock lock(&mu_);
  sqlite3_close_v2(db_);
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

absl::Status SqliteStore::Migrate() {
  ASSIGN_OR_RETURN(Stmt version, Prepare(db_, "PRAGMA user_version"));
  if (sqlite3_step(version.get()) != SQLITE_ROW) {
    return SqlError(db_, "read schema version");
  }
  int current = sqlite3_column_int(version.get(), 0);
  version.reset();
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

int SqliteStore::SchemaVersion() const {
  absl::MutexLock lock(&mu_);
  return schema_version_;
}

absl::Status SqliteStore::UpsertAgency(const v1::Agency& agency) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        Stmt upsert,
        Prepare(db_,
                "INSERT INTO agencies (id, sector, jurisdiction, area, "
                "display_name, public_authority, privacy_officer_contact, "
                "status, status_reason) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) "
                "ON CONFLICT(id) DO UPDATE SET sector=?2, jurisdiction=?3, "
                "area=?4, display_name=?5, public_authority=?6, "
                "privacy_officer_contact=?7, status=?8, status_reason=?9"));
    BindText(upsert.get(), 1, agency.id());
    BindText(upsert.get(), 2, agency.sector());
    BindText(upsert.get(), 3, agency.jurisdiction());
    BindText(upsert.get(), 4, agency.area());
    BindText(upsert.get(), 5, agency.display_name());
    sqlite3_bind_int(upsert.get(), 6, agency.public_authority() ? 1 : 0);
    BindText(upsert.get(), 7, agency.privacy_officer_contact());
    sqlite3_bind_int(upsert.get(), 8,
                     agency.status() == v1::AGENCY_STATUS_UNSPECIFIED
                         ? v1::AGENCY_STATUS_ACTIVE
                         : agency.status());
    BindText(upsert.get(), 9, agency.status_reason());
    RETURN_IF_ERROR(StepDone(db_, upsert.get(), "upsert agency"));
    ASSIGN_OR_RETURN(
        Stmt clear,
        Prepare(db_, "DELETE FROM agency_certificates WHERE agency_id=?1"));
    BindText(clear.get(), 1, agency.id());
    RETURN_IF_ERROR(StepDone(db_, clear.get(), "clear certificate bindings"));
    for (const std::string& serial : agency.certificate_serials()) {
      ASSIGN_OR_RETURN(Stmt bind,
                       Prepare(db_,
                               "INSERT OR IGNORE INTO agency_certificates "
                               "(agency_id, serial) VALUES (?1, ?2)"));
      BindText(bind.get(), 1, agency.id());
      BindText(bind.get(), 2, serial);
      RETURN_IF_ERROR(StepDone(db_, bind.get(), "bind certificate"));
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return Exec("COMMIT");
}

absl::Status SqliteStore::SetAgencyStatus(const std::string& agency_id,
                                          v1::AgencyStatus status,
                                          const std::string& reason) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Stmt update,
      Prepare(db_,
              "UPDATE agencies SET status=?2, status_reason=?3 WHERE id=?1"));
  BindText(update.get(), 1, agency_id);
  sqlite3_bind_int(update.get(), 2, status);
  BindText(update.get(), 3, reason);
  RETURN_IF_ERROR(StepDone(db_, update.get(), "set agency status"));
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(
        absl::StrCat("no agency with id \"", agency_id, "\" is registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Agency>> SqliteStore::ListAgencies() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Stmt select,
      Prepare(db_,
              "SELECT id, sector, jurisdiction, area, display_name, "
              "public_authority, privacy_officer_contact, status, "
              "status_reason FROM agencies ORDER BY id"));
  std::vector<v1::Agency> out;
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    v1::Agency& a = out.emplace_back();
    a.set_id(ColumnText(select.get(), 0));
    a.set_sector(ColumnText(select.get(), 1));
    a.set_jurisdiction(ColumnText(select.get(), 2));
    a.set_area(ColumnText(select.get(), 3));
    a.set_display_name(ColumnText(select.get(), 4));
    a.set_public_authority(sqlite3_column_int(select.get(), 5) != 0);
    a.set_privacy_officer_contact(ColumnText(select.get(), 6));
    a.set_status(static_cast<v1::AgencyStatus>(
        sqlite3_column_int(select.get(), 7)));
    a.set_status_reason(ColumnText(select.get(), 8));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list agencies");
  ASSIGN_OR_RETURN(Stmt serials,
                   Prepare(db_,
                           "SELECT agency_id, serial FROM agency_certificates "
                           "ORDER BY agency_id, serial"));
  while ((rc = sqlite3_step(serials.get())) == SQLITE_ROW) {
    const std::string id = ColumnText(serials.get(), 0);
    for (v1::Agency& a : out) {
      if (a.id() == id) a.add_certificate_serials(ColumnText(serials.get(), 1));
    }
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list certificate bindings");
  return out;
}

absl::Status SqliteStore::UpsertAuditor(const v1::Auditor& auditor) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Stmt upsert,
      Prepare(db_,
              "INSERT INTO auditors (id, scope, display_name) VALUES "
              "(?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET scope=?2, "
              "display_name=?3"));
  BindText(upsert.get(), 1, auditor.id());
  BindText(upsert.get(), 2, auditor.scope());
  BindText(upsert.get(), 3, auditor.display_name());
  return StepDone(db_, upsert.get(), "upsert auditor");
}

absl::StatusOr<std::vector<v1::Auditor>> SqliteStore::ListAuditors() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Stmt select,
                   Prepare(db_,
                           "SELECT id, scope, display_name FROM auditors "
                           "ORDER BY id"));
  std::vector<v1::Auditor> out;
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    v1::Auditor& a = out.emplace_back();
    a.set_id(ColumnText(select.get(), 0));
    a.set_scope(ColumnText(select.get(), 1));
    a.set_display_name(ColumnText(select.get(), 2));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list auditors");
  return out;
}

}  // namespace liaison
