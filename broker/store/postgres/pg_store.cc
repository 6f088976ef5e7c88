#include "broker/store/postgres/pg_store.h"

#include <poll.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "broker/basics/status_macros.h"
#include "broker/store/postgres/pg_rows.h"
#include "broker/store/postgres/pg_schema.h"

namespace liaison {

using pg::Param;
using pg::Parse;
using pg::Result;

int PostgresStore::LatestSchemaVersion() { return pg::LatestSchemaVersion(); }

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresStoreOptions& options) {
  if (options.conninfo.empty()) {
    return absl::InvalidArgumentError(
        "the PostgreSQL store needs a conninfo, e.g. \"host=/run/postgresql "
        "dbname=liaison\"");
  }
  if (options.rules == nullptr) {
    return absl::InvalidArgumentError(
        "store opened without the broker's rules");
  }
  std::unique_ptr<PostgresStore> store(new PostgresStore(options));
  RETURN_IF_ERROR(store->Connect(store->writer_));
  ASSIGN_OR_RETURN(store->schema_version_, pg::Migrate(*store->writer_.c));
  // A log written without a signer gets its head now, under the lock.
  Session& w = store->writer_;
  RETURN_IF_ERROR(w.c->Exec("BEGIN"));
  absl::StatusOr<uint64_t> size = w.log->LockSize();
  absl::Status s = size.status();
  if (s.ok()) s = store->appender_.StartAt(*w.log, *size);
  if (s.ok()) s = store->appender_.SignIfBehind(*w.log);
  if (s.ok()) s = w.c->Exec("COMMIT");
  if (!s.ok()) {
    w.c->Exec("ROLLBACK").IgnoreError();
    return s;
  }
  // Announcements before this broker opened the store are in the files it
  // reads after; every later one is reported.
  RETURN_IF_ERROR(
      store->CheckReloads(*w.c, store->reloads_seen_, /*report=*/false));
  RETURN_IF_ERROR(store->Connect(store->reader_));
  store->committer_ = std::thread([p = store.get()] { p->CommitLoop(); });
  store->reader_thread_ = std::thread([p = store.get()] { p->ReadLoop(); });
  if (options.on_inbox_grown || options.on_registry_changed ||
      options.on_reload_announced) {
    store->listener_ = std::thread([p = store.get()] { p->ListenLoop(); });
  }
  return store;
}

PostgresStore::PostgresStore(const PostgresStoreOptions& options)
    : conninfo_(options.conninfo),
      max_group_(std::max(1, options.max_group)),
      rules_(options.rules),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      on_inbox_grown_(options.on_inbox_grown),
      on_registry_changed_(options.on_registry_changed),
      on_reload_announced_(options.on_reload_announced),
      registry_recheck_(options.registry_recheck),
      appender_(options.signer, clock_) {}

PostgresStore::~PostgresStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (listener_.joinable()) listener_.join();
  if (committer_.joinable()) committer_.join();
  if (reader_thread_.joinable()) reader_thread_.join();
}

bool PostgresStore::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

absl::Status PostgresStore::CheckReloads(
    pg::Connection& c, absl::flat_hash_map<std::string, int64_t>& seen,
    bool report) {
  ASSIGN_OR_RETURN(pg::Result r,
                   c.Run("SELECT kind, generation FROM reloads ORDER BY kind"));
  for (int i = 0; i < r.rows(); ++i) {
    const std::string kind = r.Text(i, 0);
    const int64_t generation = r.Int(i, 1);
    int64_t& known = seen[kind];
    if (generation <= known) continue;
    known = generation;
    if (report && on_reload_announced_) on_reload_announced_(kind);
  }
  return absl::OkStatus();
}

void PostgresStore::ListenLoop() {
  std::unique_ptr<pg::Connection> c;
  bool connected_before = false;
  absl::Time next_recheck = absl::Now() + registry_recheck_;
  for (;;) {
    if (c == nullptr || !c->ok()) {
      c.reset();
      absl::StatusOr<std::unique_ptr<pg::Connection>> opened =
          pg::Connection::Open(conninfo_);
      absl::Status s = opened.status();
      if (s.ok()) {
        c = *std::move(opened);
        s = c->Exec(
            "LISTEN liaison_inbox; LISTEN liaison_registry; "
            "LISTEN liaison_reload");
      }
      if (s.ok()) s = CheckReloads(*c, reloads_seen_, /*report=*/true);
      if (!s.ok()) {
        c.reset();
        if (!SleepUnlessStopping(absl::Seconds(1))) return;
        continue;
      }
      if (connected_before) {
        // Whatever was announced while we were away is lost: look again.
        if (on_inbox_grown_) on_inbox_grown_({});
        if (on_registry_changed_) on_registry_changed_();
      }
      connected_before = true;
    }
    // Short waits, so a stopping store is not held up.
    pollfd fd = {PQsocket(c->raw()), POLLIN, 0};
    const int ready = poll(&fd, 1, /*timeout_ms=*/200);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (absl::Now() >= next_recheck) {
      next_recheck = absl::Now() + registry_recheck_;
      if (on_registry_changed_) on_registry_changed_();
      // A failure here is a lost connection, found again below.
      CheckReloads(*c, reloads_seen_, /*report=*/true).IgnoreError();
    }
    if (ready > 0 && PQconsumeInput(c->raw()) == 0) {
      c.reset();  // the server went: reconnect, then look again
      continue;
    }
    // Drained whether or not the socket was readable: a notification that
    // came while a query ran on this connection (CheckReloads) was read
    // with the query's result and waits in libpq, not on the socket.
    while (PGnotify* n = PQnotifies(c->raw())) {
      const std::string channel = n->relname;
      const std::string payload = n->extra;
      PQfreemem(n);
      if (channel == "liaison_registry") {
        if (on_registry_changed_) on_registry_changed_();
      } else if (channel == "liaison_reload") {
        CheckReloads(*c, reloads_seen_, /*report=*/true).IgnoreError();
      } else if (on_inbox_grown_ && !payload.empty()) {
        on_inbox_grown_(absl::StrSplit(payload, ','));
      }
    }
  }
}

absl::Status PostgresStore::Connect(Session& session) {
  if (session.c != nullptr && session.c->ok()) return absl::OkStatus();
  session.log.reset();
  session.c.reset();
  ASSIGN_OR_RETURN(session.c, pg::Connection::Open(conninfo_));
  session.log = std::make_unique<pg::LogTables>(session.c.get());
  return absl::OkStatus();
}

void PostgresStore::Submit(std::function<absl::Status(Session&)> run,
                           std::function<void(absl::Status)> done, bool read) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      (read ? reads_ : queue_).push_back({std::move(run), std::move(done)});
      return;
    }
  }
  done(absl::UnavailableError("the store is shutting down"));
}

absl::Status PostgresStore::RunAndWait(
    std::function<absl::Status(Session&)> run) {
  absl::Notification finished;
  absl::Status result;
  Submit(
      std::move(run),
      [&](absl::Status s) {
        result = std::move(s);
        finished.Notify();
      },
      /*read=*/false);
  finished.WaitForNotification();
  return result;
}

PostgresStore::CommitStats PostgresStore::Stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void PostgresStore::ReadLoop() {
  for (;;) {
    Operation read;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PostgresStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->stopping_ || !s->reads_.empty();
          },
          this));
      if (reads_.empty()) return;  // stopping, nothing left
      read = std::move(reads_.front());
      reads_.pop_front();
    }
    // One snapshot per read: a head and the nodes under it agree. A read
    // changes nothing, so one that lost its connection (the primary
    // failed over, say) is run again once on a new one.
    absl::Status s;
    for (int attempt = 0; attempt < 2; ++attempt) {
      s = Connect(reader_);
      if (s.ok()) {
        s = reader_.c->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      }
      if (s.ok()) {
        s = read.run(reader_);
        reader_.c->Exec(s.ok() ? "COMMIT" : "ROLLBACK").IgnoreError();
      }
      if (s.ok() || (reader_.c != nullptr && reader_.c->ok())) break;
    }
    if (!s.ok() && (reader_.c == nullptr || !reader_.c->ok())) {
      s = absl::UnavailableError(absl::StrCat(
          "the broker cannot reach its database; nothing was read, try "
          "again shortly: ",
          s.message()));
    }
    read.done(s);
  }
}

absl::Status PostgresStore::CommitGroup(std::vector<Operation>& group,
                                        std::vector<absl::Status>& results) {
  RETURN_IF_ERROR(Connect(writer_));
  if (absl::Status begun = writer_.c->Exec("BEGIN"); !begun.ok()) {
    // Nothing was sent yet: a connection found broken here (the primary
    // failed over since the last group) is replaced and the group goes on.
    if (writer_.c->ok()) return begun;
    RETURN_IF_ERROR(Connect(writer_));
    RETURN_IF_ERROR(writer_.c->Exec("BEGIN"));
  }
  pg::Connection& c = *writer_.c;
  // Every broker's groups queue here: sequencing, idempotency and the
  // state each operation reads are those of the groups committed before.
  ASSIGN_OR_RETURN(uint64_t durable_size, writer_.log->LockSize());
  RETURN_IF_ERROR(appender_.StartAt(*writer_.log, durable_size));
  const uint64_t size_before = appender_.size();
  grown_.clear();
  registry_changed_ = false;
  for (size_t i = 0; i < group.size(); ++i) {
    // One round trip between operations: the last one's savepoint is
    // released as the next one's is taken. COMMIT releases the last.
    RETURN_IF_ERROR(
        c.Exec(i == 0 ? "SAVEPOINT op" : "RELEASE SAVEPOINT op; SAVEPOINT op"));
    const uint64_t log_size_at_op = appender_.size();
    const size_t grown_at_op = grown_.size();
    results[i] = group[i].run(writer_);
    if (!results[i].ok()) {
      RETURN_IF_ERROR(c.Exec("ROLLBACK TO SAVEPOINT op"));
      grown_.resize(grown_at_op);
      if (appender_.size() != log_size_at_op) {
        RETURN_IF_ERROR(appender_.RewindTo(*writer_.log, log_size_at_op));
      }
    }
  }
  // Signed inside the transaction: no entry is answered before a durable
  // head commits to it.
  RETURN_IF_ERROR(appender_.SignHead(*writer_.log, size_before));
  if (appender_.size() != size_before) {
    RETURN_IF_ERROR(writer_.log->SaveSize(appender_.size()));
  }
  if (!grown_.empty()) {
    // Delivered with the commit, to every broker listening: one per group.
    std::sort(grown_.begin(), grown_.end());
    grown_.erase(std::unique(grown_.begin(), grown_.end()), grown_.end());
    RETURN_IF_ERROR(c.Run("SELECT pg_notify('liaison_inbox', $1)",
                          {Param::Text(absl::StrJoin(grown_, ","))})
                        .status());
  }
  if (registry_changed_) {
    RETURN_IF_ERROR(c.Exec("NOTIFY liaison_registry"));
  }
  // With a synchronous standby, COMMIT returns once the standby has it.
  return c.Exec("COMMIT");
}

void PostgresStore::CommitLoop() {
  for (;;) {
    std::vector<Operation> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PostgresStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
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
    const uint64_t size_before = appender_.size();
    const absl::Status commit = CommitGroup(group, results);
    if (!commit.ok()) {
      if (writer_.c != nullptr && writer_.c->ok()) {
        writer_.c->Exec("ROLLBACK").IgnoreError();
      }
      // What the appender took for the log may not be what the database
      // holds; read the edge again (or, if that fails, at the next group).
      if (appender_.started() && appender_.size() != size_before &&
          writer_.c != nullptr && writer_.c->ok()) {
        appender_.RewindTo(*writer_.log, size_before).IgnoreError();
      }
      if (appender_.started() && appender_.size() != size_before) {
        appender_.Forget();
      }
    }
    {
      absl::MutexLock lock(&mu_);
      ++stats_.commits;
      stats_.operations += group.size();
    }
    for (size_t i = 0; i < group.size(); ++i) {
      if (!commit.ok()) {
        // The connection may have gone with the COMMIT in flight: the
        // outcome is unknown, and a retry under the same idempotency key
        // finds it out.
        group[i].done(absl::UnavailableError(absl::StrCat(
            "the broker could not confirm the commit with its database; "
            "retry with the same idempotency key, which returns the first "
            "answer if it did commit: ",
            commit.message())));
      } else {
        group[i].done(results[i]);
      }
    }
  }
}

// Registry.

absl::Status PostgresStore::UpsertAgency(const v1::Agency& agency) {
  return RunAndWait([&](Session&) { return UpsertAgencyLocked(agency); });
}

absl::Status PostgresStore::UpsertAgencyLocked(const v1::Agency& agency) {
  v1::Agency stored = agency;
  if (stored.status() == v1::AGENCY_STATUS_UNSPECIFIED) {
    stored.set_status(v1::AGENCY_STATUS_ACTIVE);
  }
  // Serials as a set, in order, like the SQLite store's table of them.
  std::vector<std::string> serials(agency.certificate_serials().begin(),
                                   agency.certificate_serials().end());
  std::sort(serials.begin(), serials.end());
  serials.erase(std::unique(serials.begin(), serials.end()), serials.end());
  stored.clear_certificate_serials();
  for (std::string& s : serials) stored.add_certificate_serials(std::move(s));
  // A spurious mark (the operation fails later) costs a reload, no more.
  registry_changed_ = true;
  return writer_.c
      ->Run(
          "INSERT INTO agencies (id, body) VALUES ($1, $2) ON CONFLICT (id) "
          "DO UPDATE SET body = EXCLUDED.body",
          {Param::Text(agency.id()), Param::Bytes(stored.SerializeAsString())})
      .status();
}

absl::Status PostgresStore::SetAgencyStatus(const std::string& agency_id,
                                            v1::AgencyStatus status,
                                            const std::string& reason) {
  return RunAndWait([&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(Result r,
                     s.c->Run("SELECT body FROM agencies WHERE id = $1 FOR "
                              "UPDATE",
                              {Param::Text(agency_id)}));
    if (r.rows() == 0) {
      return absl::NotFoundError(
          absl::StrCat("no agency with id \"", agency_id, "\" is registered"));
    }
    ASSIGN_OR_RETURN(v1::Agency agency,
                     Parse<v1::Agency>(r.Bytes(0, 0), "agency"));
    agency.set_status(status);
    agency.set_status_reason(reason);
    registry_changed_ = true;
    return s.c
        ->Run(
            "UPDATE agencies SET body = $2 WHERE id = $1",
            {Param::Text(agency_id), Param::Bytes(agency.SerializeAsString())})
        .status();
  });
}

absl::StatusOr<std::vector<v1::Agency>> PostgresStore::ListAgencies() {
  std::vector<v1::Agency> out;
  RETURN_IF_ERROR(RunAndWait([&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(Result r,
                     s.c->Run("SELECT body FROM agencies ORDER BY id"));
    for (int row = 0; row < r.rows(); ++row) {
      ASSIGN_OR_RETURN(out.emplace_back(),
                       Parse<v1::Agency>(r.Bytes(row, 0), "agency"));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PostgresStore::UpsertAuditor(const v1::Auditor& auditor) {
  return RunAndWait([&](Session& s) {
    registry_changed_ = true;
    return s.c
        ->Run(
            "INSERT INTO auditors (id, body) VALUES ($1, $2) ON CONFLICT "
            "(id) DO UPDATE SET body = EXCLUDED.body",
            {Param::Text(auditor.id()),
             Param::Bytes(auditor.SerializeAsString())})
        .status();
  });
}

absl::StatusOr<std::vector<v1::Auditor>> PostgresStore::ListAuditors() {
  std::vector<v1::Auditor> out;
  RETURN_IF_ERROR(RunAndWait([&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(Result r,
                     s.c->Run("SELECT body FROM auditors ORDER BY id"));
    for (int row = 0; row < r.rows(); ++row) {
      ASSIGN_OR_RETURN(out.emplace_back(),
                       Parse<v1::Auditor>(r.Bytes(row, 0), "auditor"));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PostgresStore::UpsertRoute(const v1::Route& route) {
  return RunAndWait([&](Session&) { return UpsertRouteLocked(route); });
}

absl::Status PostgresStore::UpsertRouteLocked(const v1::Route& route) {
  ASSIGN_OR_RETURN(Result agency,
                   writer_.c->Run("SELECT 1 FROM agencies WHERE id = $1",
                                  {Param::Text(route.agency_id())}));
  if (agency.rows() == 0) {
    return absl::NotFoundError(absl::StrCat(
        "route ", route.sector(), " in ", route.area(), " names agency \"",
        route.agency_id(), "\", which is not registered"));
  }
  registry_changed_ = true;
  return writer_.c
      ->Run(
          "INSERT INTO routes (sector, area, agency_id) VALUES ($1, $2, $3) "
          "ON CONFLICT (sector, area) DO UPDATE SET agency_id = "
          "EXCLUDED.agency_id",
          {Param::Text(route.sector()), Param::Text(route.area()),
           Param::Text(route.agency_id())})
      .status();
}

absl::Status PostgresStore::RemoveRouteLocked(const v1::Route& route) {
  ASSIGN_OR_RETURN(
      Result r,
      writer_.c->Run("DELETE FROM routes WHERE sector = $1 AND "
                     "area = $2",
                     {Param::Text(route.sector()), Param::Text(route.area())}));
  registry_changed_ = true;
  if (r.Affected() == 0) {
    return absl::NotFoundError(absl::StrCat("no route for sector \"",
                                            route.sector(), "\" in area \"",
                                            route.area(), "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Route>> PostgresStore::ListRoutes() {
  std::vector<v1::Route> out;
  RETURN_IF_ERROR(RunAndWait([&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(Result r, s.c->Run("SELECT sector, area, agency_id FROM "
                                        "routes ORDER BY sector, area"));
    for (int row = 0; row < r.rows(); ++row) {
      v1::Route& route = out.emplace_back();
      route.set_sector(r.Text(row, 0));
      route.set_area(r.Text(row, 1));
      route.set_agency_id(r.Text(row, 2));
    }
    return absl::OkStatus();
  }));
  return out;
}

void PostgresStore::CommitRegistryChange(RegistryChange change,
                                         StoreDone<uint64_t> done) {
  auto in = std::make_shared<RegistryChange>(std::move(change));
  SubmitFor<uint64_t>(
      [this, in](Session& s, uint64_t* sequence) -> absl::Status {
        if (in->agency && in->agency_is_new) {
          ASSIGN_OR_RETURN(Result r,
                           s.c->Run("SELECT 1 FROM agencies WHERE id = $1",
                                    {Param::Text(in->agency->id())}));
          if (r.rows() != 0) {
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

void PostgresStore::RememberCertificate(SeenCertificate c,
                                        StoreDone<bool> done) {
  SubmitFor<bool>(
      [c = std::move(c)](Session& s, bool* out) -> absl::Status {
        RETURN_IF_ERROR(
            s.c->Run("INSERT INTO certificates_seen (serial, subject, "
                     "not_after, last_seen) VALUES ($1, $2, $3, $4) ON "
                     "CONFLICT (serial) DO UPDATE SET last_seen = "
                     "EXCLUDED.last_seen",
                     {Param::Text(c.serial), Param::Text(c.subject),
                      pg::TimeParam(c.not_after), pg::TimeParam(c.last_seen)})
                .status());
        *out = true;
        return absl::OkStatus();
      },
      std::move(done));
}

void PostgresStore::SeenCertificatesValidAt(
    absl::Time now, StoreDone<std::vector<SeenCertificate>> done) {
  SubmitFor<std::vector<SeenCertificate>>(
      [now](Session& s, std::vector<SeenCertificate>* out) -> absl::Status {
        ASSIGN_OR_RETURN(
            Result r,
            s.c->Run("SELECT serial, subject, not_after, last_seen FROM "
                     "certificates_seen WHERE not_after >= $1 ORDER BY "
                     "not_after, serial",
                     {pg::TimeParam(now)}));
        for (int row = 0; row < r.rows(); ++row) {
          SeenCertificate& c = out->emplace_back();
          c.serial = r.Text(row, 0);
          c.subject = r.Text(row, 1);
          c.not_after = absl::FromUnixMicros(r.Int(row, 2));
          c.last_seen = absl::FromUnixMicros(r.Int(row, 3));
        }
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

// The disclosure log, for auditors: on the reader's snapshot.

void PostgresStore::LatestTreeHead(StoreDone<v1::TreeHead> done) {
  SubmitFor<v1::TreeHead>(
      [](Session& s, v1::TreeHead* out) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<v1::TreeHead> head, s.log->LatestHead());
        if (!head.has_value()) {
          return absl::FailedPreconditionError(
              "the broker has not signed a tree head yet");
        }
        *out = std::move(*head);
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::ReadLog(LogQuery query, StoreDone<LogPage> done) {
  SubmitFor<LogPage>(
      [query = std::move(query)](Session& s, LogPage* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, s.log->Read(query));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::ProveInclusion(uint64_t sequence, uint64_t size,
                                   StoreDone<v1::InclusionProof> done) {
  SubmitFor<v1::InclusionProof>(
      [sequence, size](Session& s, v1::InclusionProof* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, s.log->ProveInclusion(sequence, size));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::ProveConsistency(uint64_t first_size, uint64_t second_size,
                                     StoreDone<v1::ConsistencyProof> done) {
  SubmitFor<v1::ConsistencyProof>(
      [first_size, second_size](Session& s,
                                v1::ConsistencyProof* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out,
                         s.log->ProveConsistency(first_size, second_size));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::ListOverrideReviews(
    std::optional<std::vector<std::string>> scope, bool include_reviewed,
    StoreDone<std::vector<v1::OverrideReview>> done) {
  SubmitFor<std::vector<v1::OverrideReview>>(
      [scope = std::move(scope), include_reviewed](
          Session& s, std::vector<v1::OverrideReview>* out) -> absl::Status {
        ASSIGN_OR_RETURN(*out, s.log->Overrides(scope, include_reviewed));
        return absl::OkStatus();
      },
      std::move(done), /*read=*/true);
}

void PostgresStore::ReviewOverride(OverrideReviewChange change,
                                   StoreDone<uint64_t> done) {
  SubmitFor<uint64_t>(
      [this, change = std::move(change)](Session& s, uint64_t* out) mutable {
        RETURN_IF_ERROR(s.log->PrepareReview(&change));
        RETURN_IF_ERROR(AppendLogLocked(&change.entry));
        *out = change.entry.sequence();
        return s.log->SaveReview(change, *out);
      },
      std::move(done));
}

void PostgresStore::AnnounceReload(const std::string& kind,
                                   std::function<void(absl::Status)> done) {
  Submit(
      [kind](Session& s) -> absl::Status {
        RETURN_IF_ERROR(
            s.c->Run("INSERT INTO reloads (kind, generation) VALUES ($1, 1) "
                     "ON CONFLICT (kind) DO UPDATE SET generation = "
                     "reloads.generation + 1",
                     {Param::Text(kind)})
                .status());
        return s.c
            ->Run("SELECT pg_notify('liaison_reload', $1)", {Param::Text(kind)})
            .status();
      },
      std::move(done), /*read=*/false);
}

}  // namespace liaison
