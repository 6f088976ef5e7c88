#include "broker/store/postgres/pg_log.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"
#include "broker/log/merkle.h"
#include "broker/store/log_reads.h"
#include "broker/store/postgres/pg_rows.h"

namespace liaison::pg {
namespace {

Param Sequence(uint64_t v) {
  return Param::Int(static_cast<int64_t>(
      std::min<uint64_t>(v, std::numeric_limits<int64_t>::max())));
}

// Builds a WHERE clause with numbered parameters.
class Where {
 public:
  void Add(std::string condition) {
    conditions_.push_back(std::move(condition));
  }
  std::string Bind(Param p) {
    params_.push_back(std::move(p));
    return absl::StrCat("$", params_.size());
  }
  // "(actor IN (...) OR counterpart IN (...))"; false for an empty list.
  void AddAgencies(const std::vector<std::string>& agencies) {
    if (agencies.empty()) {
      Add("FALSE");
      return;
    }
    std::vector<std::string> names;
    for (const std::string& id : agencies)
      names.push_back(Bind(Param::Text(id)));
    const std::string list = absl::StrJoin(names, ",");
    Add(absl::StrCat("(actor_agency IN (", list, ") OR counterpart IN (", list,
                     "))"));
  }
  // Entries whose acting agency is one of `agencies`.
  void AddActors(const std::vector<std::string>& agencies) {
    if (agencies.empty()) {
      Add("FALSE");
      return;
    }
    std::vector<std::string> names;
    for (const std::string& id : agencies)
      names.push_back(Bind(Param::Text(id)));
    Add(absl::StrCat("actor_agency IN (", absl::StrJoin(names, ","), ")"));
  }
  std::string Sql() const {
    return conditions_.empty() ? "TRUE" : absl::StrJoin(conditions_, " AND ");
  }
  const std::vector<Param>& params() const { return params_; }

 private:
  std::vector<std::string> conditions_;
  std::vector<Param> params_;
};

template <typename Enum>
std::string IntList(const std::vector<Enum>& values) {
  std::vector<std::string> parts;
  for (Enum v : values) parts.push_back(absl::StrCat(static_cast<int>(v)));
  return absl::StrJoin(parts, ",");
}

constexpr char kOverrideColumns[] =
    "SELECT e.entry, r.outcome, r.comment, r.reviewer FROM log_entries e "
    "LEFT JOIN override_reviews r ON r.seq = e.seq WHERE ";

absl::StatusOr<v1::OverrideReview> OverrideRow(const Result& r, int row) {
  v1::OverrideReview review;
  ASSIGN_OR_RETURN(*review.mutable_entry(),
                   Parse<v1::LogEntry>(r.Bytes(row, 0), "log entry"));
  review.set_log_sequence(review.entry().sequence());
  if (!r.IsNull(row, 1)) {
    review.set_outcome(static_cast<v1::OverrideReview::Outcome>(r.Int(row, 1)));
    review.set_comment(r.Text(row, 2));
    review.set_reviewer(r.Text(row, 3));
  }
  return review;
}

// The entries in the review queue: overrides, and disclosures made outside
// the system under an override.
std::string IsOverride() {
  return absl::StrCat("(e.kind = ", v1::ENTRY_KIND_OVERRIDE,
                      " OR (e.kind = ", v1::ENTRY_KIND_MANUAL_DISCLOSURE,
                      " AND e.basis = ", v1::BASIS_KIND_OVERRIDE, "))");
}

}  // namespace

absl::StatusOr<uint64_t> LogTables::Size() {
  ASSIGN_OR_RETURN(Result r,
                   c_->Run("SELECT size FROM log_state WHERE id = 1"));
  if (r.rows() != 1) return absl::DataLossError("the log_state row is missing");
  return static_cast<uint64_t>(r.Int(0, 0));
}

absl::StatusOr<LogPage> LogTables::Read(const LogQuery& query) {
  Where where;
  where.Add("seq >= " + where.Bind(Sequence(query.first_sequence)));
  where.Add("seq < " + where.Bind(Sequence(query.below)));
  if (!query.subject_pseudonym.empty()) {
    where.Add("subject = " + where.Bind(Param::Text(query.subject_pseudonym)));
  }
  for (const std::vector<std::string>& agencies : query.agency_sets) {
    where.AddAgencies(agencies);
  }
  if (!query.kinds.empty()) {
    where.Add(absl::StrCat("kind IN (", IntList(query.kinds), ")"));
  }
  if (!query.bases.empty()) {
    where.Add(absl::StrCat("basis IN (", IntList(query.bases), ")"));
  }
  if (query.allowed.has_value()) {
    where.Add(*query.allowed ? "allowed" : "NOT allowed");
  }
  if (query.from != absl::InfinitePast()) {
    where.Add("time_us >= " +
              where.Bind(Param::Int(absl::ToUnixMicros(query.from))));
  }
  if (query.until != absl::InfiniteFuture()) {
    where.Add("time_us < " +
              where.Bind(Param::Int(absl::ToUnixMicros(query.until))));
  }
  const int limit = std::max(1, query.limit);
  ASSIGN_OR_RETURN(
      Result r,
      c_->RunOnce(absl::StrCat("SELECT entry FROM log_entries WHERE ",
                               where.Sql(), " ORDER BY seq LIMIT ", limit + 1),
                  where.params()));
  LogPage page;
  for (int row = 0; row < r.rows(); ++row) {
    if (row == limit) {
      page.more = true;
      break;
    }
    LoggedEntry logged;
    logged.leaf = r.Bytes(row, 0);
    ASSIGN_OR_RETURN(logged.entry,
                     Parse<v1::LogEntry>(logged.leaf, "log entry"));
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

absl::StatusOr<std::vector<v1::OverrideReview>> LogTables::Overrides(
    const std::optional<std::vector<std::string>>& scope,
    bool include_reviewed) {
  Where where;
  where.Add(IsOverride());
  // Reviewed by auditors of the agency whose data left: the entry's actor
  // (DESIGN.md rule 6), not the recipient.
  if (scope.has_value()) where.AddActors(*scope);
  if (!include_reviewed) {
    where.Add(absl::StrCat("(r.outcome IS NULL OR r.outcome IN (",
                           v1::OverrideReview::OUTCOME_PENDING, ",",
                           v1::OverrideReview::OUTCOME_NEEDS_FOLLOW_UP, "))"));
  }
  ASSIGN_OR_RETURN(Result r,
                   c_->RunOnce(absl::StrCat(kOverrideColumns, where.Sql(),
                                            " ORDER BY e.seq"),
                               where.params()));
  std::vector<v1::OverrideReview> out;
  for (int row = 0; row < r.rows(); ++row) {
    ASSIGN_OR_RETURN(v1::OverrideReview review, OverrideRow(r, row));
    if (!review.entry().statement_digest().empty()) {
      // The sealed statement, for the reviewer.
      ASSIGN_OR_RETURN(
          Result sealed,
          c_->Run("SELECT statement FROM sealed_statements WHERE digest = $1",
                  {Param::Text(review.entry().statement_digest())}));
      if (sealed.rows() == 1) review.set_statement(sealed.Text(0, 0));
    }
    out.push_back(std::move(review));
  }
  return out;
}

absl::StatusOr<std::optional<v1::OverrideReview>> LogTables::ReviewOf(
    uint64_t sequence, const std::optional<std::vector<std::string>>& scope,
    bool disclosing) {
  Where where;
  where.Add(IsOverride());
  where.Add("e.seq = " + where.Bind(Sequence(sequence)));
  if (scope.has_value()) {
    if (disclosing) {
      where.AddActors(*scope);
    } else {
      where.AddAgencies(*scope);
    }
  }
  ASSIGN_OR_RETURN(
      Result r,
      c_->RunOnce(absl::StrCat(kOverrideColumns, where.Sql()), where.params()));
  if (r.rows() == 0) return std::optional<v1::OverrideReview>();
  ASSIGN_OR_RETURN(v1::OverrideReview review, OverrideRow(r, 0));
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
  return c_
      ->Run(
          "INSERT INTO override_reviews (seq, outcome, comment, reviewer, "
          "review_seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO "
          "UPDATE SET outcome = EXCLUDED.outcome, comment = "
          "EXCLUDED.comment, reviewer = EXCLUDED.reviewer, review_seq = "
          "EXCLUDED.review_seq",
          {Sequence(change.override_sequence), Param::Int(change.outcome),
           Param::Text(change.comment), Param::Text(change.entry.actor()),
           Sequence(review_sequence)})
      .status();
}

absl::StatusOr<uint64_t> LogTables::LockSize() {
  ASSIGN_OR_RETURN(
      Result r, c_->Run("SELECT size FROM log_state WHERE id = 1 FOR UPDATE"));
  if (r.rows() != 1) return absl::DataLossError("the log_state row is missing");
  return static_cast<uint64_t>(r.Int(0, 0));
}

absl::Status LogTables::SaveSize(uint64_t size) {
  return c_
      ->Run("UPDATE log_state SET size = $1 WHERE id = 1", {Sequence(size)})
      .status();
}

absl::StatusOr<std::string> LogTables::Node(int level, uint64_t index) const {
  ASSIGN_OR_RETURN(Result r,
                   c_->Run("SELECT hash FROM log_nodes WHERE level = $1 AND "
                           "idx = $2",
                           {Param::Int(level), Sequence(index)}));
  if (r.rows() != 1) {
    return absl::DataLossError(absl::StrCat("the log's tree node (", level,
                                            ", ", index, ") is missing"));
  }
  return r.Bytes(0, 0);
}

absl::Status LogTables::WriteEntry(const v1::LogEntry& entry,
                                   const std::string& leaf) {
  return c_
      ->Run(
          "INSERT INTO log_entries (seq, entry, time_us, kind, "
          "actor_agency, counterpart, subject, basis, allowed) VALUES "
          "($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          {Sequence(entry.sequence()), Param::Bytes(leaf),
           Param::Int(entry.time().seconds() * 1000000 +
                      entry.time().nanos() / 1000),
           Param::Int(entry.kind()), Param::Text(ActingParty(entry.actor())),
           Param::Text(entry.counterpart()),
           Param::Text(entry.subject_pseudonym()), Param::Int(entry.basis()),
           Param::Text(entry.allowed() ? "true" : "false")})
      .status();
}

absl::Status LogTables::WriteNodes(
    const std::vector<merkle::StoredNode>& nodes) {
  if (nodes.empty()) return absl::OkStatus();
  // One statement for all of them: an entry completes about two nodes.
  // Each count of rows is its own prepared statement; counts stay small
  // (at most one node per level).
  std::string sql = "INSERT INTO log_nodes (level, idx, hash) VALUES ";
  std::vector<Param> params;
  params.reserve(nodes.size() * 3);
  for (size_t i = 0; i < nodes.size(); ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "($", 3 * i + 1, ", $", 3 * i + 2,
                    ", $", 3 * i + 3, ")");
    params.push_back(Param::Int(nodes[i].level));
    params.push_back(Sequence(nodes[i].index));
    params.push_back(Param::Bytes(nodes[i].hash));
  }
  return c_->Run(sql, params).status();
}

absl::Status LogTables::SealStatement(const std::string& digest,
                                      const std::string& statement) {
  return c_
      ->Run(
          "INSERT INTO sealed_statements (digest, statement) VALUES ($1, "
          "$2) ON CONFLICT (digest) DO NOTHING",
          {Param::Text(digest), Param::Text(statement)})
      .status();
}

absl::Status LogTables::WriteHead(const v1::TreeHead& head) {
  return c_
      ->Run(
          "INSERT INTO tree_heads (tree_size, head) VALUES ($1, $2) ON "
          "CONFLICT (tree_size) DO UPDATE SET head = EXCLUDED.head",
          {Sequence(head.tree_size()), Param::Bytes(head.SerializeAsString())})
      .status();
}

absl::StatusOr<std::optional<v1::TreeHead>> LogTables::LatestHead() {
  ASSIGN_OR_RETURN(Result r, c_->Run("SELECT head FROM tree_heads ORDER BY "
                                     "tree_size DESC LIMIT 1"));
  if (r.rows() == 0) return std::optional<v1::TreeHead>();
  v1::TreeHead head;
  if (!head.ParseFromString(r.Bytes(0, 0))) {
    return absl::DataLossError("a stored tree head does not parse");
  }
  return std::optional<v1::TreeHead>(std::move(head));
}

}  // namespace liaison::pg
