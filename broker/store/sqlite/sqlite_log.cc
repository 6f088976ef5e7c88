#include "broker/store/sqlite/sqlite_log.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/store/log_reads.h"

namespace liaison::sqlite {

const char kLogSchema[] = R"sql(
    CREATE TABLE log_index (
      seq          INTEGER PRIMARY KEY,
      time_us      INTEGER NOT NULL,
      kind         INTEGER NOT NULL,
      actor_agency TEXT NOT NULL,
      counterpart  TEXT NOT NULL,
      subject      TEXT NOT NULL,
      basis        INTEGER NOT NULL,
      allowed      INTEGER NOT NULL
    );
    CREATE INDEX log_by_subject ON log_index (subject, seq);
    CREATE INDEX log_by_actor ON log_index (actor_agency, seq);
    CREATE INDEX log_by_counterpart ON log_index (counterpart, seq);
    CREATE INDEX log_by_kind ON log_index (kind, seq);
    CREATE TABLE log_nodes (
      level INTEGER NOT NULL,
      idx   INTEGER NOT NULL,
      hash  BLOB NOT NULL,
      PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE tree_heads (
      tree_size INTEGER PRIMARY KEY,
      head      BLOB NOT NULL
    );
    CREATE TABLE override_reviews (
      seq        INTEGER PRIMARY KEY,
      outcome    INTEGER NOT NULL,
      comment    TEXT NOT NULL,
      reviewer   TEXT NOT NULL,
      review_seq INTEGER NOT NULL
    );
)sql";

namespace {

int64_t ClampSequence(uint64_t v) {
  return static_cast<int64_t>(
      std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

// The last leaf under node (level, index): log_nodes' key from schema
// version 9, so the nodes one commit writes sit together at the end of
// the table instead of at the end of each level's run.
uint64_t LastLeaf(int level, uint64_t index) {
  return ((index + 1) << level) - 1;
}

// The hash `q`, bound to select node (level, index), finds; DATA_LOSS when
// there is none.
absl::StatusOr<std::string> NodeHash(Query& q, int level, uint64_t index) {
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) {
    return absl::DataLossError(absl::StrCat("the log's tree node (", level,
                                            ", ", index, ") is missing"));
  }
  std::string hash = q.Blob(0);
  q.Reset();
  return hash;
}

// Builds a WHERE clause with positional parameters.
class Where {
 public:
  void Add(std::string condition) {
    conditions_.push_back(std::move(condition));
  }
  std::string Param(std::string value) {
    binders_.push_back(
        [value = std::move(value)](Query& q, int n) { q.Bind(n, value); });
    return "?";
  }
  std::string Param(int64_t value) {
    binders_.push_back([value](Query& q, int n) { q.Bind(n, value); });
    return "?";
  }
  // "(actor IN (...) OR counterpart IN (...))"; false for an empty list.
  void AddAgencies(const std::vector<std::string>& agencies,
                   absl::string_view table) {
    if (agencies.empty()) {
      Add("0");
      return;
    }
    std::vector<std::string> a, c;
    for (const std::string& id : agencies) a.push_back(Param(id));
    for (const std::string& id : agencies) c.push_back(Param(id));
    Add(absl::StrCat("(", table, ".actor_agency IN (", absl::StrJoin(a, ","),
                     ") OR ", table, ".counterpart IN (", absl::StrJoin(c, ","),
                     "))"));
  }
  // Entries whose acting agency is one of `agencies`.
  void AddActors(const std::vector<std::string>& agencies,
                 absl::string_view table) {
    if (agencies.empty()) {
      Add("0");
      return;
    }
    std::vector<std::string> a;
    for (const std::string& id : agencies) a.push_back(Param(id));
    Add(absl::StrCat(table, ".actor_agency IN (", absl::StrJoin(a, ","), ")"));
  }
  std::string Sql() const {
    return conditions_.empty() ? "1" : absl::StrJoin(conditions_, " AND ");
  }
  void BindAll(Query& q) const {
    for (size_t i = 0; i < binders_.size(); ++i) {
      binders_[i](q, static_cast<int>(i) + 1);
    }
  }

 private:
  std::vector<std::string> conditions_;
  std::vector<std::function<void(Query&, int)>> binders_;
};

template <typename Enum>
std::string IntList(const std::vector<Enum>& values) {
  std::vector<std::string> parts;
  for (Enum v : values) parts.push_back(absl::StrCat(static_cast<int>(v)));
  return absl::StrJoin(parts, ",");
}

}  // namespace

absl::StatusOr<uint64_t> LogTables::Size() {
  ASSIGN_OR_RETURN(StatementCache::Use next,
                   statements_.Get("SELECT COALESCE(MAX(seq) + 1, 0) FROM "
                                   "log_entries"));
  ASSIGN_OR_RETURN(bool row, next->Step());
  if (!row) return SqlError(db_, "log size");
  return static_cast<uint64_t>(next->Int(0));
}

absl::StatusOr<std::string> LogTables::Node(int level, uint64_t index) const {
  if (!node_select_.has_value()) {
    ASSIGN_OR_RETURN(Query q,
                     Query::Prepare(db_,
                                    "SELECT hash FROM log_nodes "
                                    "WHERE last_leaf=?1 AND level=?2"));
    node_select_.emplace(std::move(q));
  }
  Query& q = node_select_->Reset();
  q.Bind(1, ClampSequence(LastLeaf(level, index))).Bind(2, int64_t{level});
  return NodeHash(q, level, index);
}

absl::Status LogTables::WriteIndex(const v1::LogEntry& entry) {
  ASSIGN_OR_RETURN(
      StatementCache::Use index,
      statements_.Get("INSERT INTO log_index (seq, time_us, kind, "
                      "actor_agency, counterpart, subject, basis, allowed) "
                      "VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"));
  return index->Bind(1, ClampSequence(entry.sequence()))
      .Bind(2, entry.time().seconds() * 1000000 + entry.time().nanos() / 1000)
      .Bind(3, int64_t{entry.kind()})
      .Bind(4, ActingParty(entry.actor()))
      .Bind(5, entry.counterpart())
      .Bind(6, entry.subject_pseudonym())
      .Bind(7, int64_t{entry.basis()})
      .Bind(8, int64_t{entry.allowed() ? 1 : 0})
      .Run();
}

absl::Status LogTables::WriteEntry(const v1::LogEntry& entry,
                                   const std::string& leaf) {
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_.Get("INSERT INTO log_entries (seq, entry) "
                                   "VALUES (?1, ?2)"));
  RETURN_IF_ERROR(
      insert->Bind(1, ClampSequence(entry.sequence())).BindBlob(2, leaf).Run());
  return WriteIndex(entry);
}

absl::Status LogTables::WriteNodes(
    const std::vector<merkle::StoredNode>& nodes) {
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_.Get("INSERT INTO log_nodes (last_leaf, level, "
                                   "hash) VALUES (?1,?2,?3)"));
  for (const merkle::StoredNode& node : nodes) {
    RETURN_IF_ERROR(
        insert->Reset()
            .Bind(1, ClampSequence(LastLeaf(node.level, node.index)))
            .Bind(2, int64_t{node.level})
            .BindBlob(3, node.hash)
            .Run());
  }
  return absl::OkStatus();
}

absl::Status LogTables::SealStatement(const std::string& digest,
                                      const std::string& statement) {
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_.Get("INSERT OR IGNORE INTO sealed_statements "
                                   "(digest, statement) VALUES (?1, ?2)"));
  return insert->Bind(1, digest).Bind(2, statement).Run();
}

namespace {

// log_nodes as schema versions 3 to 8 lay it out, keyed by (level, idx),
// for indexing a log older than version 3 inside the migration to 3;
// version 9 re-keys the nodes by the last leaf each covers.
class NodesKeyedByLevel final : public merkle::NodeReader {
 public:
  static absl::StatusOr<NodesKeyedByLevel> Prepare(sqlite3* db) {
    ASSIGN_OR_RETURN(Query select,
                     Query::Prepare(db,
                                    "SELECT hash FROM log_nodes WHERE "
                                    "level=?1 AND idx=?2"));
    ASSIGN_OR_RETURN(Query insert,
                     Query::Prepare(db,
                                    "INSERT INTO log_nodes (level, idx, "
                                    "hash) VALUES (?1,?2,?3)"));
    return NodesKeyedByLevel(std::move(select), std::move(insert));
  }
  absl::StatusOr<std::string> Node(int level, uint64_t index) const override {
    Query& q = select_.Reset();
    q.Bind(1, int64_t{level}).Bind(2, ClampSequence(index));
    return NodeHash(q, level, index);
  }
  absl::Status Write(const std::vector<merkle::StoredNode>& nodes) {
    for (const merkle::StoredNode& node : nodes) {
      RETURN_IF_ERROR(insert_.Reset()
                          .Bind(1, int64_t{node.level})
                          .Bind(2, ClampSequence(node.index))
                          .BindBlob(3, node.hash)
                          .Run());
    }
    return absl::OkStatus();
  }

 private:
  NodesKeyedByLevel(Query select, Query insert)
      : select_(std::move(select)), insert_(std::move(insert)) {}
  mutable Query select_;
  Query insert_;
};

}  // namespace

absl::Status LogTables::IndexExisting() {
  ASSIGN_OR_RETURN(NodesKeyedByLevel by_level, NodesKeyedByLevel::Prepare(db_));
  ASSIGN_OR_RETURN(
      Query select,
      Query::Prepare(db_, "SELECT seq, entry FROM log_entries ORDER BY seq"));
  uint64_t expected = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    const std::string leaf = select.Blob(1);
    ASSIGN_OR_RETURN(v1::LogEntry entry,
                     ParseBlob<v1::LogEntry>(leaf, "log entry"));
    if (static_cast<uint64_t>(select.Int(0)) != expected ||
        entry.sequence() != expected) {
      return absl::DataLossError(absl::StrCat(
          "the log has a gap or a misnumbered entry at sequence ", expected));
    }
    RETURN_IF_ERROR(WriteIndex(entry));
    ASSIGN_OR_RETURN(
        std::vector<merkle::StoredNode> nodes,
        merkle::NodesCompletedBy(by_level, expected, merkle::LeafHash(leaf)));
    RETURN_IF_ERROR(by_level.Write(nodes));
    ++expected;
  }
  return absl::OkStatus();
}

absl::Status LogTables::WriteHead(const v1::TreeHead& head) {
  ASSIGN_OR_RETURN(StatementCache::Use insert,
                   statements_.Get("INSERT OR REPLACE INTO tree_heads "
                                   "(tree_size, head) VALUES (?1, ?2)"));
  return insert->Bind(1, ClampSequence(head.tree_size()))
      .BindBlob(2, head.SerializeAsString())
      .Run();
}

absl::StatusOr<std::optional<v1::TreeHead>> LogTables::LatestHead() {
  ASSIGN_OR_RETURN(StatementCache::Use select,
                   statements_.Get("SELECT head FROM tree_heads ORDER BY "
                                   "tree_size DESC LIMIT 1"));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return std::optional<v1::TreeHead>();
  ASSIGN_OR_RETURN(v1::TreeHead head,
                   ParseBlob<v1::TreeHead>(select->Blob(0), "tree head"));
  return std::optional<v1::TreeHead>(std::move(head));
}

absl::StatusOr<LogPage> LogTables::Read(const LogQuery& query) {
  Where where;
  where.Add("i.seq >= " + where.Param(ClampSequence(query.first_sequence)));
  where.Add("i.seq < " + where.Param(ClampSequence(query.below)));
  if (!query.subject_pseudonym.empty()) {
    where.Add("i.subject = " + where.Param(query.subject_pseudonym));
  }
  for (const std::vector<std::string>& agencies : query.agency_sets) {
    where.AddAgencies(agencies, "i");
  }
  if (!query.kinds.empty()) {
    where.Add(absl::StrCat("i.kind IN (", IntList(query.kinds), ")"));
  }
  if (!query.bases.empty()) {
    where.Add(absl::StrCat("i.basis IN (", IntList(query.bases), ")"));
  }
  if (query.allowed.has_value()) {
    where.Add(absl::StrCat("i.allowed = ", *query.allowed ? 1 : 0));
  }
  if (query.from != absl::InfinitePast()) {
    where.Add("i.time_us >= " + where.Param(absl::ToUnixMicros(query.from)));
  }
  if (query.until != absl::InfiniteFuture()) {
    where.Add("i.time_us < " + where.Param(absl::ToUnixMicros(query.until)));
  }
  const int limit = std::max(1, query.limit);
  const std::string sql = absl::StrCat(
      "SELECT e.entry FROM log_index i JOIN log_entries e ON e.seq = i.seq "
      "WHERE ",
      where.Sql(), " ORDER BY i.seq LIMIT ", limit + 1);
  ASSIGN_OR_RETURN(Query select, Query::Prepare(db_, sql.c_str()));
  where.BindAll(select);
  LogPage page;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (static_cast<int>(page.entries.size()) == limit) {
      page.more = true;
      break;
    }
    LoggedEntry logged;
    logged.leaf = select.Blob(0);
    ASSIGN_OR_RETURN(logged.entry,
                     ParseBlob<v1::LogEntry>(logged.leaf, "log entry"));
    if (query.with_proofs) {
      ASSIGN_OR_RETURN(logged.proof,
                       merkle::InclusionProof(*this, logged.entry.sequence(),
                                              query.proof_size));
    }
    page.entries.push_back(std::move(logged));
  }
  return page;
}

absl::StatusOr<v1::InclusionProof> LogTables::ProveInclusion(uint64_t sequence,
                                                             uint64_t size) {
  ASSIGN_OR_RETURN(uint64_t log_size, Size());
  return ProveInclusionIn(*this, log_size, sequence, size);
}

absl::StatusOr<v1::ConsistencyProof> LogTables::ProveConsistency(
    uint64_t first_size, uint64_t second_size) {
  ASSIGN_OR_RETURN(uint64_t log_size, Size());
  return ProveConsistencyIn(*this, log_size, first_size, second_size);
}

namespace {

constexpr const char kOverrideColumns[] =
    "SELECT e.entry, r.outcome, r.comment, r.reviewer FROM log_index i "
    "JOIN log_entries e ON e.seq = i.seq "
    "LEFT JOIN override_reviews r ON r.seq = i.seq WHERE ";

absl::StatusOr<v1::OverrideReview> OverrideRow(Query& q) {
  v1::OverrideReview review;
  ASSIGN_OR_RETURN(*review.mutable_entry(),
                   ParseBlob<v1::LogEntry>(q.Blob(0), "log entry"));
  review.set_log_sequence(review.entry().sequence());
  if (!q.IsNull(1)) {
    review.set_outcome(static_cast<v1::OverrideReview::Outcome>(q.Int(1)));
    review.set_comment(q.Text(2));
    review.set_reviewer(q.Text(3));
  }
  return review;
}

void AddScope(const std::optional<std::vector<std::string>>& scope,
              Where& where) {
  if (scope.has_value()) where.AddAgencies(*scope, "i");
}

// An override is reviewed by auditors of the agency whose data left: its
// entry's actor (DESIGN.md rule 6), not the recipient.
void AddDisclosingScope(const std::optional<std::vector<std::string>>& scope,
                        Where& where) {
  if (scope.has_value()) where.AddActors(*scope, "i");
}

// The entries in the review queue: overrides, and disclosures made outside
// the system under an override.
std::string IsOverride() {
  return absl::StrCat("(i.kind = ", v1::ENTRY_KIND_OVERRIDE,
                      " OR (i.kind = ", v1::ENTRY_KIND_MANUAL_DISCLOSURE,
                      " AND i.basis = ", v1::BASIS_KIND_OVERRIDE, "))");
}

}  // namespace

absl::StatusOr<std::vector<v1::OverrideReview>> LogTables::Overrides(
    const std::optional<std::vector<std::string>>& scope,
    bool include_reviewed) {
  Where where;
  where.Add(IsOverride());
  AddDisclosingScope(scope, where);
  if (!include_reviewed) {
    where.Add(absl::StrCat("(r.outcome IS NULL OR r.outcome IN (",
                           v1::OverrideReview::OUTCOME_PENDING, ",",
                           v1::OverrideReview::OUTCOME_NEEDS_FOLLOW_UP, "))"));
  }
  const std::string sql =
      absl::StrCat(kOverrideColumns, where.Sql(), " ORDER BY i.seq");
  ASSIGN_OR_RETURN(Query select, Query::Prepare(db_, sql.c_str()));
  where.BindAll(select);
  std::vector<v1::OverrideReview> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(v1::OverrideReview review, OverrideRow(select));
    out.push_back(std::move(review));
  }
  // The sealed statements, for the reviewer.
  ASSIGN_OR_RETURN(Query sealed,
                   Query::Prepare(db_,
                                  "SELECT statement FROM sealed_statements "
                                  "WHERE digest = ?1"));
  for (v1::OverrideReview& review : out) {
    if (review.entry().statement_digest().empty()) continue;
    sealed.Reset();
    sealed.Bind(1, review.entry().statement_digest());
    ASSIGN_OR_RETURN(bool row, sealed.Step());
    if (row) review.set_statement(sealed.Text(0));
  }
  return out;
}

absl::StatusOr<std::optional<v1::OverrideReview>> LogTables::ReviewOf(
    uint64_t sequence, const std::optional<std::vector<std::string>>& scope,
    bool disclosing) {
  Where where;
  where.Add(IsOverride());
  where.Add("i.seq = " + where.Param(ClampSequence(sequence)));
  if (disclosing) {
    AddDisclosingScope(scope, where);
  } else {
    AddScope(scope, where);
  }
  const std::string sql = absl::StrCat(kOverrideColumns, where.Sql());
  ASSIGN_OR_RETURN(Query select, Query::Prepare(db_, sql.c_str()));
  where.BindAll(select);
  ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<v1::OverrideReview>();
  ASSIGN_OR_RETURN(v1::OverrideReview review, OverrideRow(select));
  return std::optional<v1::OverrideReview>(std::move(review));
}

absl::Status LogTables::PrepareReview(OverrideReviewChange* change) {
  ASSIGN_OR_RETURN(
      std::optional<v1::OverrideReview> disclosing,
      ReviewOf(change->override_sequence, change->scope, /*disclosing=*/true));
  std::optional<v1::OverrideReview> involved;
  if (!disclosing.has_value()) {
    ASSIGN_OR_RETURN(involved, ReviewOf(change->override_sequence,
                                        change->scope, /*disclosing=*/false));
  }
  return CheckReview(disclosing, involved, change);
}

absl::Status LogTables::SaveReview(const OverrideReviewChange& change,
                                   uint64_t review_sequence) {
  ASSIGN_OR_RETURN(
      Query upsert,
      Query::Prepare(db_,
                     "INSERT OR REPLACE INTO override_reviews (seq, outcome, "
                     "comment, reviewer, review_seq) VALUES (?1,?2,?3,?4,?5)"));
  return upsert.Bind(1, ClampSequence(change.override_sequence))
      .Bind(2, int64_t{change.outcome})
      .Bind(3, change.comment)
      .Bind(4, change.entry.actor())
      .Bind(5, ClampSequence(review_sequence))
      .Run();
}

}  // namespace liaison::sqlite
