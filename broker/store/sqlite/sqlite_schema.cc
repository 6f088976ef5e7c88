#include "broker/store/sqlite/sqlite_schema.h"

#include "broker/store/sqlite/sqlite_log.h"

namespace liaison::sqlite {

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
    kLogSchema,
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
    // 8: a referral's content is stored once. From here on referrals.body
    // is the referral as sent and is not written again; the events after
    // it are rows of referral_events (seq: the event's place in the
    // history) and referrals.status is its status now. (A row written
    // before this version holds its history up to then in its body.) An
    // inbox message with from_referral = 1 delivers its referral without a
    // copy: its body lacks the referral, read from referrals.body when the
    // message is leased.
    R"sql(
    CREATE TABLE referral_events (
      referral_id TEXT NOT NULL,
      seq         INTEGER NOT NULL,
      event       BLOB NOT NULL,
      PRIMARY KEY (referral_id, seq)
    ) WITHOUT ROWID;
    ALTER TABLE inbox ADD COLUMN from_referral INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 9: the log's tree nodes keyed by the last leaf each covers, then its
    // level: the nodes an append completes have the new leaf as their last,
    // so a commit's nodes are neighbours at the end of the table. Keyed by
    // (level, idx) a commit wrote at the end of every level's run, a page
    // each. Measured with liaison-bench at 64 callers: the WAL frames of
    // log_nodes per referral went from 2.1 to 0.7.
    R"sql(
    CREATE TABLE log_nodes_by_leaf (
      last_leaf INTEGER NOT NULL,
      level     INTEGER NOT NULL,
      hash      BLOB NOT NULL,
      PRIMARY KEY (last_leaf, level)
    ) WITHOUT ROWID;
    INSERT INTO log_nodes_by_leaf (last_leaf, level, hash)
      SELECT ((idx + 1) << level) - 1, level, hash FROM log_nodes;
    DROP TABLE log_nodes;
    ALTER TABLE log_nodes_by_leaf RENAME TO log_nodes;
    )sql",
    // 10: cases end. closed_at and detached_at are 0 while open or
    // attached; outcome and detach_reason hold CaseOutcome and
    // DetachReason values.
    R"sql(
    ALTER TABLE cases ADD COLUMN closed_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cases ADD COLUMN outcome INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE case_agencies ADD COLUMN detached_at INTEGER NOT NULL
      DEFAULT 0;
    ALTER TABLE case_agencies ADD COLUMN detach_reason INTEGER NOT NULL
      DEFAULT 0;
    )sql",
    // 11: retention. purged is 1 once a row's content is purged (its body
    // then keeps only routing fields, or is empty for an inbox message).
    // inbox.kind is the InboxMessage body's field number (14: a summary;
    // 0 for rows written before this version). consents.ends_at is
    // valid_until, 0 for none. The partial indexes find what is due.
    R"sql(
    ALTER TABLE inbox ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE inbox ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX inbox_acked_held ON inbox (agency_id, acked_at)
      WHERE state = 1 AND purged = 0;
    CREATE INDEX inbox_expired_held ON inbox (agency_id, expires_at)
      WHERE state = 2 AND purged = 0;
    ALTER TABLE referrals ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX referrals_held ON referrals (case_id) WHERE purged = 0;
    CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at > 0;
    ALTER TABLE summary_requests ADD COLUMN purged INTEGER NOT NULL
      DEFAULT 0;
    CREATE INDEX summary_requests_held ON summary_requests (answered_at)
      WHERE answered_at > 0 AND purged = 0;
    ALTER TABLE consents ADD COLUMN ends_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE consents ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE override_deadlines ADD COLUMN purged INTEGER NOT NULL
      DEFAULT 0;
    )sql",
};
const int kMigrationCount =
    static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

}  // namespace liaison::sqlite
