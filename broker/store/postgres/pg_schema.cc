#include "broker/store/postgres/pg_schema.h"

#include "absl/strings/str_cat.h"
#include "broker/basics/status_macros.h"

namespace liaison::pg {
namespace {

// Key of the advisory lock migrations hold: "liaison" in ASCII.
constexpr char kMigrationLock[] = "SELECT pg_advisory_xact_lock(108105097105)";

const char* const kMigrations[] = {
    // 1: the registry and the disclosure log.
    R"sql(
    CREATE TABLE agencies (
      id   TEXT PRIMARY KEY,
      body BYTEA NOT NULL
    );
    CREATE TABLE auditors (
      id   TEXT PRIMARY KEY,
      body BYTEA NOT NULL
    );
    CREATE TABLE routes (
      sector    TEXT NOT NULL,
      area      TEXT NOT NULL,
      agency_id TEXT NOT NULL REFERENCES agencies (id),
      PRIMARY KEY (sector, area)
    );
    -- The log's size, sequenced under this one row's lock in each group
    -- commit: indices are gap-free and never come from a sequence, which
    -- jumps after a failover.
    CREATE TABLE log_state (
      id   INTEGER PRIMARY KEY CHECK (id = 1),
      size BIGINT NOT NULL
    );
    INSERT INTO log_state (id, size) VALUES (1, 0);
    CREATE TABLE log_entries (
      seq          BIGINT PRIMARY KEY,
      entry        BYTEA NOT NULL,
      time_us      BIGINT NOT NULL,
      kind         INTEGER NOT NULL,
      actor_agency TEXT NOT NULL,
      counterpart  TEXT NOT NULL,
      subject      TEXT NOT NULL,
      basis        INTEGER NOT NULL,
      allowed      BOOLEAN NOT NULL
    );
    CREATE INDEX log_by_subject ON log_entries (subject, seq);
    CREATE INDEX log_by_actor ON log_entries (actor_agency, seq);
    CREATE INDEX log_by_counterpart ON log_entries (counterpart, seq);
    CREATE TABLE log_nodes (
      level INTEGER NOT NULL,
      idx   BIGINT NOT NULL,
      hash  BYTEA NOT NULL,
      PRIMARY KEY (level, idx)
    );
    CREATE TABLE tree_heads (
      tree_size BIGINT PRIMARY KEY,
      head      BYTEA NOT NULL
    );
    CREATE TABLE sealed_statements (
      digest    TEXT PRIMARY KEY,
      statement TEXT NOT NULL
    );
    )sql",
};
constexpr int kMigrationCount =
    static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

}  // namespace

int LatestSchemaVersion() { return kMigrationCount; }

absl::StatusOr<int> Migrate(Connection& c) {
  for (;;) {
    RETURN_IF_ERROR(c.Exec("BEGIN"));
    absl::Status s = c.Exec(kMigrationLock);
    if (s.ok()) {
      s = c.Exec(
          "CREATE TABLE IF NOT EXISTS liaison_schema (version INTEGER NOT "
          "NULL); INSERT INTO liaison_schema (version) SELECT 0 WHERE NOT "
          "EXISTS (SELECT 1 FROM liaison_schema)");
    }
    absl::StatusOr<Result> version =
        s.ok() ? c.Run("SELECT version FROM liaison_schema") : s;
    if (!version.ok() || version->rows() != 1) {
      c.Exec("ROLLBACK").IgnoreError();
      return version.ok() ? absl::DataLossError(
                                "liaison_schema must hold exactly one row")
                          : version.status();
    }
    const int current = static_cast<int>(version->Int(0, 0));
    if (current > kMigrationCount) {
      c.Exec("ROLLBACK").IgnoreError();
      return absl::FailedPreconditionError(absl::StrCat(
          "schema version ", current, " is newer than this broker supports (",
          kMigrationCount,
          "); run a broker at least as new as the one that wrote it"));
    }
    if (current == kMigrationCount) {
      RETURN_IF_ERROR(c.Exec("COMMIT"));
      return current;
    }
    s = c.Exec(kMigrations[current]);
    if (s.ok()) {
      s = c.Run("UPDATE liaison_schema SET version = $1",
                {Param::Int(current + 1)})
              .status();
    }
    if (!s.ok()) {
      c.Exec("ROLLBACK").IgnoreError();
      return absl::Status(
          s.code(), absl::StrCat("migration to schema version ", current + 1,
                                 " failed: ", s.message()));
    }
    RETURN_IF_ERROR(c.Exec("COMMIT"));
  }
}

}  // namespace liaison::pg
