// The Store on PostgreSQL, for several brokers over one database (DESIGN.md
// section 7). Each broker keeps its own group commit: one thread runs the
// operations waiting at that moment in one transaction, each in its own
// savepoint, and commits once. Every group first takes the lock on the one
// log_state row, so groups from all brokers are serialized: the log's
// indices are gap-free, idempotency keys are unique across brokers, and
// what a group reads is what the groups before it committed. Reads that
// change nothing run on a second connection, in a repeatable-read snapshot,
// and never wait for commits.
//
// A connection lost mid-commit leaves the outcome unknown: the operations
// are answered UNAVAILABLE, the next group reconnects (with
// target_session_attrs=read-write in the conninfo, to whichever server is
// now the primary), and a client's retry under the same idempotency key
// gets the first answer or commits once.
#ifndef LIAISON_BROKER_STORE_POSTGRES_PG_STORE_H_
#define LIAISON_BROKER_STORE_POSTGRES_PG_STORE_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "broker/basics/clock.h"
#include "broker/log/tree_head.h"
#include "broker/store/log_appender.h"
#include "broker/store/postgres/pg_connection.h"
#include "broker/store/postgres/pg_log.h"
#include "broker/store/store.h"

namespace liaison {

struct PostgresStoreOptions {
  // A libpq connection string. Required. For failover name every server
  // and ask for the primary: "host=db1,db2 dbname=liaison
  // target_session_attrs=read-write".
  std::string conninfo;
  // Most operations committed together in one transaction. Default 256.
  int max_group = 256;
  // As in SqliteStoreOptions: signs a head in every commit that appends;
  // the broker's rules; the clock that stamps heads. All must outlive the
  // store; rules are required.
  const LogSigner* signer = nullptr;
  const StoreRules* rules = nullptr;
  const Clock* clock = nullptr;
  // Told, on the store's listener thread, of commits by any broker on the
  // database (this one included): the agencies whose inboxes grew, one
  // call per commit group; an empty list after the listener reconnected,
  // since notifications sent meanwhile are lost, so every stream should
  // look again. Must not block for long. Optional.
  std::function<void(const std::vector<std::string>& agencies)> on_inbox_grown;
  // Told when any broker changed the registry, and every
  // `registry_recheck` as a safety net for a lost notification. Optional.
  std::function<void()> on_registry_changed;
  absl::Duration registry_recheck = absl::Seconds(30);
  // Told when another broker announced a reload of `kind` (AnnounceReload),
  // and at each re-check for an announcement whose notification was lost;
  // once per announcement, this broker's own included. Optional.
  std::function<void(const std::string& kind)> on_reload_announced;
};

class PostgresStore final : public Store {
 public:
  // Connects, applies every migration the database has not seen (under an
  // advisory lock, so brokers starting together do not race) and signs a
  // head if the log has none for its size. UNAVAILABLE when no server
  // answers; FAILED_PRECONDITION for a database of a newer broker.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(
      const PostgresStoreOptions& options);
  static int LatestSchemaVersion();

  // Runs the operations already queued, then disconnects.
  ~PostgresStore() override;

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
  // Runs on the caller's thread, on a connection of its own.
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
  // Counts the announcement in the reloads table and notifies
  // liaison_reload, both with the commit.
  void AnnounceReload(const std::string& kind,
                      std::function<void(absl::Status)> done) override;

  struct CommitStats {
    uint64_t commits = 0;
    uint64_t operations = 0;
  };
  CommitStats Stats();

 private:
  // A connection and the log's tables over it; replaced whole when the
  // connection breaks.
  struct Session {
    std::unique_ptr<pg::Connection> c;
    std::unique_ptr<pg::LogTables> log;
  };
  // An operation runs on its thread with that thread's session; a write
  // inside a savepoint of the group's transaction, a read in a snapshot.
  struct Operation {
    std::function<absl::Status(Session&)> run;
    std::function<void(absl::Status)> done;
  };

  explicit PostgresStore(const PostgresStoreOptions& options);
  // Connects `session` unless it is connected and healthy.
  absl::Status Connect(Session& session);
  void Submit(std::function<absl::Status(Session&)> run,
              std::function<void(absl::Status)> done, bool read);
  template <typename T>
  void SubmitFor(std::function<absl::Status(Session&, T*)> run,
                 StoreDone<T> done, bool read = false);
  absl::Status RunAndWait(std::function<absl::Status(Session&)> run);
  void CommitLoop();
  void ReadLoop();
  // LISTENs on its own connection and passes notifications on.
  void ListenLoop();
  // Calls on_reload_announced_ for each kind whose announcement count in
  // the reloads table passed `seen`'s, and records the new counts; with
  // `report` false only records them.
  absl::Status CheckReloads(pg::Connection& c,
                            absl::flat_hash_map<std::string, int64_t>& seen,
                            bool report);
  // Waits up to `d`; false once the store is stopping.
  bool SleepUnlessStopping(absl::Duration d);
  // One group in one transaction; `results` gets each operation's own.
  absl::Status CommitGroup(std::vector<Operation>& group,
                           std::vector<absl::Status>& results);

  // The helpers below run on the commit thread, in its transaction.
  absl::Status AppendLogLocked(v1::LogEntry* entry);
  // Purges what the acknowledged consent recall `recall` recalled from
  // `agency_id`, and logs the purge.
  absl::Status PurgeRecalledLocked(const std::string& agency_id,
                                   const v1::Notice& recall, absl::Time now);
  // Purges up to `max` items of `kind` held for `agency_id` and due by
  // `cutoff`; returns how many.
  absl::StatusOr<int64_t> PurgeHeldLocked(const std::string& agency_id,
                                          HeldKind kind, absl::Time cutoff,
                                          int64_t max);
  absl::Status UpsertAgencyLocked(const v1::Agency& agency);
  absl::Status UpsertRouteLocked(const v1::Route& route);
  absl::Status RemoveRouteLocked(const v1::Route& route);
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
  absl::Status EnqueueNoticesLocked(const std::vector<QueuedNotice>& notices,
                                    const std::string& referral_id,
                                    absl::Time expires_at);
  absl::Status SaveReferral(const v1::Referral& referral,
                            absl::Time deadline = absl::InfiniteFuture());
  absl::Status CheckCaseMember(const std::string& agency_id,
                               const std::string& case_id,
                               const std::string& pseudonym,
                               absl::string_view what);
  // On either thread's connection.
  static absl::StatusOr<v1::Case> LoadCase(pg::Connection& c,
                                           const std::string& agency_id,
                                           const std::string& case_id);
  static absl::StatusOr<StoredConsent> LoadConsent(
      pg::Connection& c, const std::string& consent_id);
  static absl::StatusOr<StoredSummaryRequest> LoadSummaryRequest(
      pg::Connection& c, const std::string& holder_agency_id,
      const std::string& request_id);
  absl::Status RecordConsentUseLocked(const v1::LogEntry& entry,
                                      const std::string& agency_id,
                                      const std::string& message_id);

  const std::string conninfo_;
  const int max_group_;
  const StoreRules* const rules_;
  const Clock* const clock_;
  const std::function<void(const std::vector<std::string>&)> on_inbox_grown_;
  const std::function<void()> on_registry_changed_;
  const std::function<void(const std::string&)> on_reload_announced_;
  const absl::Duration registry_recheck_;
  int schema_version_ = 0;

  // Touched only by the commit thread once Open returns.
  Session writer_;
  // Sequences, seals and signs; started in every group at the size found
  // under the log_state lock.
  LogAppender appender_;
  // Agencies whose inboxes the group in progress added to, announced with
  // the commit on the channel liaison_inbox (one notification per group).
  std::vector<std::string> grown_;
  // Whether the group in progress changed the registry, announced on
  // liaison_registry.
  bool registry_changed_ = false;
  // Reload announcements counted so far, per kind: read in Open, then
  // touched only by the listener thread.
  absl::flat_hash_map<std::string, int64_t> reloads_seen_;
  // Touched only by the reader thread.
  Session reader_;

  absl::Mutex mu_;
  std::deque<Operation> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Operation> reads_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CommitStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread committer_;
  std::thread reader_thread_;
  std::thread listener_;
};

template <typename T>
void PostgresStore::SubmitFor(std::function<absl::Status(Session&, T*)> run,
                              StoreDone<T> done, bool read) {
  auto out = std::make_shared<T>();
  Submit([run = std::move(run), out](Session& s) { return run(s, out.get()); },
         [out, done = std::move(done)](absl::Status s) {
           if (!s.ok()) {
             done(s);
           } else {
             done(std::move(*out));
           }
         },
         read);
}

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_POSTGRES_PG_STORE_H_
