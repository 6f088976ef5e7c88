#include "broker/store/postgres/pg_log.h"

#include "absl/strings/str_cat.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"

namespace liaison::pg {
namespace {

Param Sequence(uint64_t v) { return Param::Int(static_cast<int64_t>(v)); }

}  // namespace

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
  for (const merkle::StoredNode& n : nodes) {
    RETURN_IF_ERROR(
        c_->Run("INSERT INTO log_nodes (level, idx, hash) VALUES "
                "($1, $2, $3)",
                {Param::Int(n.level), Sequence(n.index), Param::Bytes(n.hash)})
            .status());
  }
  return absl::OkStatus();
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
