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
    // 2: cases, referrals, inboxes, idempotency, summary requests, the
    // consent registry, certificates seen and override reviews. Times are
    // microseconds since the Unix epoch, as in the SQLite store; `ord`
    // columns keep insertion order where a listing needs it.
    R"sql(
    CREATE INDEX log_by_kind ON log_entries (kind, seq);
    CREATE TABLE cases (
      case_id           TEXT PRIMARY KEY,
      manager_agency_id TEXT NOT NULL,
      opened_by         TEXT NOT NULL,
      opened_at         BIGINT NOT NULL,
      subject_pseudonym TEXT NOT NULL
    );
    CREATE TABLE case_agencies (
      case_id     TEXT NOT NULL REFERENCES cases (case_id),
      agency_id   TEXT NOT NULL,
      reason      TEXT NOT NULL,
      attached_at BIGINT NOT NULL,
      ord         BIGSERIAL,
      PRIMARY KEY (case_id, agency_id)
    );
    CREATE TABLE case_handovers (
      case_id        TEXT NOT NULL REFERENCES cases (case_id),
      seq            INTEGER NOT NULL,
      from_agency_id TEXT NOT NULL,
      to_agency_id   TEXT NOT NULL,
      body           BYTEA NOT NULL,
      PRIMARY KEY (case_id, seq)
    );
    CREATE TABLE referrals (
      referral_id         TEXT PRIMARY KEY,
      case_id             TEXT NOT NULL REFERENCES cases (case_id),
      sender_agency_id    TEXT NOT NULL,
      recipient_agency_id TEXT NOT NULL,
      status              INTEGER NOT NULL,
      body                BYTEA NOT NULL,
      -- When an urgent referral must be acknowledged by; 0 for routine.
      deadline_at         BIGINT NOT NULL DEFAULT 0,
      escalated           BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX referrals_deadline ON referrals (deadline_at)
      WHERE deadline_at > 0 AND NOT escalated;
    -- state: 0 pending, 1 acknowledged, 2 expired. seq orders an inbox; it
    -- may have gaps (several brokers draw from it), unlike the log.
    CREATE TABLE inbox (
      seq              BIGSERIAL PRIMARY KEY,
      message_id       TEXT NOT NULL UNIQUE,
      agency_id        TEXT NOT NULL,
      sender_agency_id TEXT NOT NULL,
      referral_id      TEXT NOT NULL,
      body             BYTEA NOT NULL,
      enqueued_at      BIGINT NOT NULL,
      expires_at       BIGINT NOT NULL,
      lease_until      BIGINT NOT NULL DEFAULT 0,
      attempts         INTEGER NOT NULL DEFAULT 0,
      state            SMALLINT NOT NULL DEFAULT 0,
      acked_at         BIGINT
    );
    CREATE INDEX inbox_pending ON inbox (agency_id, seq) WHERE state = 0;
    CREATE INDEX inbox_expiry ON inbox (expires_at) WHERE state = 0;
    -- One row per (agency, key) across every broker on the database.
    CREATE TABLE idempotency (
      agency_id TEXT NOT NULL,
      key       TEXT NOT NULL,
      digest    TEXT NOT NULL,
      response  BYTEA NOT NULL,
      PRIMARY KEY (agency_id, key)
    );
    -- answered_at is 0 while a request is open.
    CREATE TABLE summary_requests (
      request_id          TEXT PRIMARY KEY,
      requester_agency_id TEXT NOT NULL,
      holder_agency_id    TEXT NOT NULL,
      case_id             TEXT NOT NULL,
      relationship        BOOLEAN NOT NULL,
      body                BYTEA NOT NULL,
      created_at          BIGINT NOT NULL,
      answered_at         BIGINT NOT NULL DEFAULT 0
    );
    -- withdrawn_at is 0 while a consent is in force.
    CREATE TABLE consents (
      consent_id        TEXT PRIMARY KEY,
      recorded_by       TEXT NOT NULL,
      subject_pseudonym TEXT NOT NULL,
      refused           BOOLEAN NOT NULL,
      body              BYTEA NOT NULL,
      withdrawn_at      BIGINT NOT NULL DEFAULT 0,
      ord               BIGSERIAL
    );
    CREATE INDEX consents_subject ON consents (subject_pseudonym, refused);
    CREATE TABLE consent_uses (
      consent_id TEXT NOT NULL REFERENCES consents (consent_id),
      agency_id  TEXT NOT NULL,
      message_id TEXT NOT NULL,
      ord        BIGSERIAL,
      PRIMARY KEY (consent_id, message_id)
    );
    CREATE TABLE certificates_seen (
      serial    TEXT PRIMARY KEY,
      subject   TEXT NOT NULL,
      not_after BIGINT NOT NULL,
      last_seen BIGINT NOT NULL
    );
    CREATE INDEX certificates_seen_expiry ON certificates_seen (not_after);
    -- When each override's review is due; escalated once overdue.
    CREATE TABLE override_deadlines (
      seq          BIGINT PRIMARY KEY,
      actor_agency TEXT NOT NULL,
      review_by    BIGINT NOT NULL,
      escalated    BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX override_deadlines_due ON override_deadlines (review_by)
      WHERE NOT escalated;
    CREATE TABLE override_reviews (
      seq        BIGINT PRIMARY KEY,
      outcome    INTEGER NOT NULL,
      comment    TEXT NOT NULL,
      reviewer   TEXT NOT NULL,
      review_seq BIGINT NOT NULL
    );
    )sql",
    // 3: how many times each kind of configuration each broker reads from
    // its own files (policy, CRL) was reloaded through some broker, so a
    // broker that missed the notification finds out at its next re-check.
    R"sql(
    CREATE TABLE reloads (
      kind       TEXT PRIMARY KEY,
      generation BIGINT NOT NULL
    );
    )sql",
    // 4: cases end, as in the SQLite store's version 10.
    R"sql(
    ALTER TABLE cases ADD COLUMN closed_at BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE cases ADD COLUMN outcome INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE case_agencies ADD COLUMN detached_at BIGINT NOT NULL
      DEFAULT 0;
    ALTER TABLE case_agencies ADD COLUMN detach_reason INTEGER NOT NULL
      DEFAULT 0;
    )sql",
    // 5: retention, as in the SQLite store's version 11.
    R"sql(
    ALTER TABLE inbox ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE inbox ADD COLUMN purged BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE INDEX inbox_acked_held ON inbox (agency_id, acked_at)
      WHERE state = 1 AND NOT purged;
    CREATE INDEX inbox_expired_held ON inbox (agency_id, expires_at)
      WHERE state = 2 AND NOT purged;
    ALTER TABLE referrals ADD COLUMN purged BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE INDEX referrals_held ON referrals (case_id) WHERE NOT purged;
    CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at > 0;
    ALTER TABLE summary_requests ADD COLUMN purged BOOLEAN NOT NULL
      DEFAULT FALSE;
    CREATE INDEX summary_requests_held ON summary_requests (answered_at)
      WHERE answered_at > 0 AND NOT purged;
    ALTER TABLE consents ADD COLUMN ends_at BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE consents ADD COLUMN purged BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE override_deadlines ADD COLUMN purged BOOLEAN NOT NULL
      DEFAULT FALSE;
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
