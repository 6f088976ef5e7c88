// The embedded Store: one SQLite file in WAL mode with synchronous=FULL, so
// a change is on disk before the call that made it is answered.
//
// Group commit: every operation is queued to one commit thread, which runs
// all operations waiting at that moment inside one transaction (each in its
// own savepoint, so one failing operation does not undo the others) and
// then commits once: one fsync for the whole group. Each operation's
// completion runs after that commit.
#ifndef LIAISON_BROKER_STORE_SQLITE_SQLITE_STORE_H_
#define LIAISON_BROKER_STORE_SQLITE_SQLITE_STORE_H_

#include <sqlite3.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "broker/basics/clock.h"
#include "broker/log/tree_head.h"
#include "broker/store/log_appender.h"
#include "broker/store/sqlite/sqlite_files.h"
#include "broker/store/store.h"

namespace liaison {

struct SqliteStoreOptions {
  // Path of the database file; created if missing. Required.
  std::string path;
  // How long a writer waits for another process's lock before failing with
  // UNAVAILABLE. Default 5 s.
  int busy_timeout_ms = 5000;
  // Most operations committed together in one transaction. Default 256.
  int max_group = 256;
  // Signs a tree head in every commit that appends to the disclosure log;
  // must outlive the store. Without one no heads are signed (tests of other
  // parts only).
  const LogSigner* signer = nullptr;
  // The broker's rules, applied inside the commits (lifecycle moves,
  // notices, recalls); must outlive the store. Required.
  const StoreRules* rules = nullptr;
  // Stamps signed tree heads; must outlive the store. Default: the system
  // clock.
  const Clock* clock = nullptr;
  // Asked before every write and sync of the store's files, so a test can
  // fail one; must outlive the store. Default (null): SQLite's own OS
  // layer, directly.
  StoreFiles* files = nullptr;
  // The WAL's frames (pages) not yet copied into the database file at
  // which a commit wakes the checkpoint thread. Default 4,000 (4 MiB of
  // 1 KiB pages, what SQLite's default of 1,000 pages is with 4 KiB).
  int checkpoint_frames = 4000;
  // The WAL's length in frames past which a checkpoint waits for the
  // commit thread, so the WAL starts again from its beginning and its
  // file stops growing. Default 64,000 (about 64 MiB).
  int restart_frames = 64000;
};

namespace sqlite {
class FilesVfs;
class LogTables;
class StatementCache;
}  // namespace sqlite

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database and applies every migration the
  // file has not seen, each in its own transaction. A file written by a newer
  // broker (higher schema version) is refused with FAILED_PRECONDITION.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const SqliteStoreOptions& options);

  // The highest schema version this build knows.
  static int LatestSchemaVersion();

  // Runs the operations already queued, then closes the file.
  ~SqliteStore() override;

  int SchemaVersion() const override { return schema_version_; }
  absl::Status UpsertAgency(const v1::Agency& agency) override;
  absl::Status SetAgencyStatus(const std::string& agency_id,
                               v1::AgencyStatus status,
                               const std::string& reason) override;
  absl::StatusOr<std::vector<v1::Agency>> ListAgencies() override;
  absl::Status UpsertAuditor(const v1::Auditor& auditor) override;
  absl::StatusOr<std::vector<v1::Auditor>> ListAuditors() override;
  absl::Status UpsertRoute(const v1::Route& route) override;
  absl::StatusOr<std::vector<v1::Route>> ListRoutes() override;
  void CommitRegistryChange(RegistryChange change,
                            StoreDone<uint64_t> done) override;
  void RememberCertificate(SeenCertificate certificate,
                           StoreDone<bool> done) override;
  void SeenCertificatesValidAt(
      absl::Time now, StoreDone<std::vector<SeenCertificate>> done) override;

  void CommitReferral(NewReferral referral,
                      StoreDone<v1::SendReferralResponse> done) override;
  void RecordManualDisclosure(ManualDisclosure disclosure,
                              StoreDone<uint64_t> done) override;
  void AppendLog(v1::LogEntry entry, StoreDone<uint64_t> done) override;
  void RecordAccess(v1::LogEntry entry, StoreDone<uint64_t> done) override;
  void LeaseInbox(const std::string& agency_id, absl::Time now,
                  absl::Duration lease, int max,
                  StoreDone<InboxLease> done) override;
  void AckMessage(const std::string& agency_id, const std::string& message_id,
                  absl::Time now, v1::LogEntry delivery_entry,
                  v1::InboxMessage sender_update, absl::Time update_expires_at,
                  StoreDone<std::string> done) override;
  void GetReferral(const std::string& agency_id, const std::string& referral_id,
                   StoreDone<v1::Referral> done) override;
  void TakeBackReferral(ReferralTakeBack take_back,
                        StoreDone<TakenBack> done) override;
  void ChangeReferral(ReferralChange change,
                      StoreDone<v1::Referral> done) override;
  void CommitSummaryPush(SummaryPush push,
                         StoreDone<v1::PushSummaryResponse> done) override;
  void CommitSummaryRequest(
      NewSummaryRequest request,
      StoreDone<v1::RequestSummaryResponse> done) override;
  void GetSummaryRequest(const std::string& holder_agency_id,
                         const std::string& request_id,
                         StoreDone<StoredSummaryRequest> done) override;
  void CommitSummaryAnswer(SummaryAnswer answer,
                           StoreDone<uint64_t> done) override;
  void RecordConsent(NewConsent consent, StoreDone<v1::Consent> done) override;
  void GetConsent(const std::string& consent_id,
                  StoreDone<StoredConsent> done) override;
  void LoadConsentFacts(const std::string& consent_id,
                        const std::string& subject_pseudonym,
                        StoreDone<ConsentFacts> done) override;
  void WithdrawConsent(ConsentWithdrawal withdrawal,
                       StoreDone<WithdrawnConsent> done) override;
  void GetCase(const std::string& agency_id, const std::string& case_id,
               StoreDone<v1::Case> done) override;
  void HandOverCase(const std::string& agency_id, const std::string& case_id,
                    v1::CaseHandover handover,
                    StoreDone<v1::Case> done) override;
  void ChangeCase(CaseChange change, StoreDone<v1::Case> done) override;
  void Purge(PurgeRequest request, StoreDone<PurgeCounts> done) override;
  // Runs on the caller's thread, on the checkpoint connection.
  void Scrub(StoreDone<bool> done) override;
  void ExpireInbox(absl::Time now, absl::Duration notice_ttl, int max,
                   StoreDone<std::vector<std::string>> done) override;
  void EscalateOverdue(absl::Time now, absl::Duration notice_ttl, int max,
                       StoreDone<std::vector<std::string>> done) override;
  void EscalateOverdueReviews(
      absl::Time now, absl::Duration notice_ttl, int max,
      StoreDone<std::vector<std::string>> done) override;
  void LatestTreeHead(StoreDone<v1::TreeHead> done) override;
  void ReadLog(LogQuery query, StoreDone<LogPage> done) override;
  void ProveInclusion(uint64_t sequence, uint64_t size,
                      StoreDone<v1::InclusionProof> done) override;
  void ProveConsistency(uint64_t first_size, uint64_t second_size,
                        StoreDone<v1::ConsistencyProof> done) override;
  void ListOverrideReviews(
      std::optional<std::vector<std::string>> scope, bool include_reviewed,
      StoreDone<std::vector<v1::OverrideReview>> done) override;
  void ReviewOverride(OverrideReviewChange change,
                      StoreDone<uint64_t> done) override;

  // Number of commits so far, and operations they carried; for tests and
  // benchmarks of group commit.
  struct CommitStats {
    uint64_t commits = 0;
    uint64_t operations = 0;
    // Checkpoints of the WAL into the database file, on the checkpoint
    // thread; restarts are those that waited for the commit thread so the
    // WAL starts again from its beginning.
    uint64_t checkpoints = 0;
    uint64_t restarts = 0;
    // The last checkpoint's error, empty when it succeeded.
    std::string checkpoint_error;
  };
  CommitStats Stats();

 private:
  // An operation runs on the commit thread inside a savepoint; a non-OK
  // result rolls back its writes. `done` gets the operation's own result,
  // or the commit's error.
  struct Operation {
    std::function<absl::Status()> run;
    std::function<void(absl::Status)> done;
  };

  SqliteStore(sqlite3* db, std::unique_ptr<sqlite::FilesVfs> vfs,
              const SqliteStoreOptions& options);
  absl::Status Migrate();
  // Signs a head for the current log unless the latest head covers it.
  absl::Status SignHeadIfBehind();
  absl::Status Exec(const char* sql);
  // Exec for the string literals of the commit loop, prepared once.
  absl::Status ExecCached(const char* sql);
  // Another connection on the store's file, through its VFS; `what` names
  // it in the error.
  absl::Status OpenConnection(const std::string& path, int flags,
                              int busy_timeout_ms, const char* what,
                              sqlite3** db);
  absl::Status OpenReader(const std::string& path, int busy_timeout_ms);
  // The checkpoint thread's connection, and the hook on the commit
  // thread's that wakes it.
  absl::Status OpenCheckpointer(const std::string& path, int busy_timeout_ms);
  static int OnWalCommit(void* store, sqlite3* db, const char* name,
                         int frames);
  void CheckpointLoop();
  // On the reader thread: runs `sql`, prepared once, on its connection.
  absl::Status RunReaderStatement(const char* sql);
  // On the commit thread, between groups: when the checkpoint thread asks,
  // copies the WAL's remaining frames so the WAL can start again.
  void CatchUpCheckpoint();
  // The VFS name connections open with; null for SQLite's default.
  const char* VfsName() const;
  void Submit(std::function<absl::Status()> run,
              std::function<void(absl::Status)> done);
  // Queues a read for the reader thread, which runs it in its own read
  // transaction on its own connection, so reads never wait for commits.
  void SubmitRead(std::function<absl::Status()> run,
                  std::function<void(absl::Status)> done);
  // Submits an operation (a write, or with `read` a read) that fills in a
  // result of type T, which `done` receives after the commit.
  template <typename T>
  void SubmitFor(std::function<absl::Status(T*)> run, StoreDone<T> done,
                 bool read = false);
  // Submits and waits; for the registry's calls, made outside reactors.
  absl::Status RunAndWait(std::function<absl::Status()> run);
  void CommitLoop();
  void ReadLoop();

  absl::Status AppendLogLocked(v1::LogEntry* entry);
  // The registry's writes, on the commit thread.
  absl::Status UpsertAgencyLocked(const v1::Agency& agency);
  absl::Status UpsertRouteLocked(const v1::Route& route);
  absl::Status RemoveRouteLocked(const v1::Route& route);
  // The response remembered for a request already committed under
  // (agency, key), nullopt for a new key; ALREADY_EXISTS when the key was
  // used for a request with another digest. `what` names the request.
  absl::StatusOr<std::optional<std::string>> SeenRequest(
      const std::string& agency_id, const std::string& key,
      const std::string& digest, absl::string_view what);
  absl::Status RememberRequest(const std::string& agency_id,
                               const std::string& key,
                               const std::string& digest,
                               const std::string& response);
  absl::Status EnqueueLocked(const std::string& agency_id,
                             const std::string& sender_agency_id,
                             const std::string& referral_id,
                             const v1::InboxMessage& message,
                             absl::Time expires_at);
  // The delivery of a new referral, stored without its own copy of the
  // referral (from_referral): leasing it reads the referral's row.
  absl::Status EnqueueReferralLocked(const std::string& agency_id,
                                     const std::string& sender_agency_id,
                                     const std::string& referral_id,
                                     v1::InboxMessage* delivery,
                                     absl::Time expires_at);
  absl::Status InsertInboxRow(const std::string& agency_id,
                              const std::string& sender_agency_id,
                              const std::string& referral_id,
                              const v1::InboxMessage& message,
                              const std::string& body, absl::Time expires_at,
                              bool from_referral);
  // The referral as sent, with the events and status recorded since.
  absl::StatusOr<v1::Referral> LoadReferral(const std::string& referral_id);
  // A case as `agency_id` may see it: NOT_FOUND unless attached.
  absl::StatusOr<v1::Case> LoadCase(const std::string& agency_id,
                                    const std::string& case_id);
  // The purge of each kind held for `agency_id`, of what is due by
  // `cutoff`, at most `max`; returns how many were purged.
  absl::StatusOr<int64_t> PurgeInboxLocked(const std::string& agency_id,
                                           absl::Time cutoff, bool summaries,
                                           int64_t max);
  absl::StatusOr<int64_t> PurgeReferralsLocked(const std::string& agency_id,
                                               absl::Time cutoff, int64_t max);
  absl::StatusOr<int64_t> PurgeSummaryRequestsLocked(
      const std::string& agency_id, absl::Time cutoff, int64_t max);
  absl::StatusOr<int64_t> PurgeConsentsLocked(const std::string& agency_id,
                                              absl::Time cutoff, int64_t max);
  absl::StatusOr<int64_t> PurgeStatementsLocked(const std::string& agency_id,
                                                absl::Time cutoff, int64_t max);
  // Purges one referral (stored as `body`) and its events, and with a
  // `case_id` that case's handover notes.
  absl::Status PurgeReferralLocked(const std::string& referral_id,
                                   const std::string& body,
                                   const std::string& case_id);
  // Purges what the acknowledged consent recall `recall` recalled from
  // `agency_id`, and logs the purge.
  absl::Status PurgeRecalledLocked(const std::string& agency_id,
                                   const v1::Notice& recall, absl::Time now);
  // Rewrites each (seq, blob) row `select_sql` finds for `key` with only
  // its routing fields, a message of `type`'s kind, with `update_sql`
  // (?1 key, ?2 seq, ?3 blob).
  absl::Status PurgeBlobsLocked(const char* select_sql, const char* update_sql,
                                const std::string& key,
                                google::protobuf::Message* type,
                                absl::string_view what);
  // CheckMembership (case_rules.h) for `agency_id`'s row of the case.
  absl::Status CheckCaseMember(const std::string& agency_id,
                               const std::string& case_id,
                               const std::string& pseudonym,
                               absl::string_view what);
  // NOT_FOUND unless the request was addressed to `holder_agency_id`.
  absl::StatusOr<StoredSummaryRequest> LoadSummaryRequest(
      const std::string& holder_agency_id, const std::string& request_id);
  // On the commit thread's connection, or with `statements` another's.
  absl::StatusOr<StoredConsent> LoadConsent(
      const std::string& consent_id,
      sqlite::StatementCache* statements = nullptr);
  // For an allowed entry under a consent: FAILED_PRECONDITION when the
  // consent was withdrawn meanwhile, else records that `agency_id`
  // received `message_id` under it, for the recall. Other entries: OK.
  absl::Status RecordConsentUseLocked(const v1::LogEntry& entry,
                                      const std::string& agency_id,
                                      const std::string& message_id);
  absl::Status EnqueueNoticesLocked(const std::vector<QueuedNotice>& notices,
                                    const std::string& referral_id,
                                    absl::Time expires_at);
  // Stores a new referral as sent, with its acknowledgement deadline.
  absl::Status InsertReferral(const v1::Referral& referral,
                              absl::Time deadline);
  // Records a referral's change: its status now, and the events its
  // history gained since it had `history_before` (as LoadReferral gave
  // it). The referral as sent is not written again.
  absl::Status SaveReferralEvents(const v1::Referral& referral,
                                  int history_before);

  // Closed after both connections.
  std::unique_ptr<sqlite::FilesVfs> vfs_;
  // Touched only by the commit thread once Open returns.
  sqlite3* const db_;
  const int max_group_;
  const StoreRules* const rules_;
  const Clock* const clock_;
  // Sequences, seals and signs; its size is the log's as of the
  // transaction in progress.
  LogAppender appender_;
  int schema_version_ = 0;
  std::unique_ptr<sqlite::LogTables> log_;
  // The commit thread's statements (and Open's, before it starts).
  std::unique_ptr<sqlite::StatementCache> statements_;

  // The reader's own connection; touched only by the reader thread.
  sqlite3* reader_db_ = nullptr;
  std::unique_ptr<sqlite::LogTables> reader_log_;
  std::unique_ptr<sqlite::StatementCache> reader_statements_;

  absl::Mutex mu_;
  std::deque<Operation> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Operation> reads_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CommitStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread committer_;
  std::thread reader_;

  // Checkpoints run on their own connection and thread, so the commit
  // thread only appends to the WAL: copying a checkpoint's pages into the
  // database file and syncing it, on the commit thread, took about a
  // third of its time (liaison-bench at 64 callers).
  sqlite3* checkpoint_db_ = nullptr;
  // The connection is opened without SQLite's own mutex: the checkpoint
  // thread and Scrub take turns on it.
  absl::Mutex checkpoint_db_mu_;
  const int checkpoint_frames_;
  const int restart_frames_;
  absl::Mutex checkpoint_mu_;
  bool checkpoint_wanted_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stopping_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  // The checkpoint thread waits while the commit thread catches up;
  // restart_asked_ is the commit thread's lock-free look at it.
  bool restart_wanted_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  std::atomic<bool> restart_asked_{false};
  // The WAL's frames the last checkpoint copied (its first frames).
  std::atomic<int> checkpointed_frames_{0};
  std::thread checkpointer_;
};

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

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_SQLITE_SQLITE_STORE_H_
