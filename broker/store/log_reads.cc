#include "broker/store/log_reads.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/basics/principal.h"
#include "broker/basics/status_macros.h"

namespace liaison {

absl::StatusOr<v1::InclusionProof> ProveInclusionIn(
    const merkle::NodeReader& nodes, uint64_t log_size, uint64_t sequence,
    uint64_t size) {
  if (size > log_size) {
    return absl::OutOfRangeError(absl::StrCat(
        "tree size ", size, " is beyond the log's ", log_size, " entries"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                   merkle::InclusionProof(nodes, sequence, size));
  v1::InclusionProof proof;
  proof.set_leaf_index(sequence);
  proof.set_tree_size(size);
  for (std::string& h : hashes) proof.add_hashes(std::move(h));
  return proof;
}

absl::StatusOr<v1::ConsistencyProof> ProveConsistencyIn(
    const merkle::NodeReader& nodes, uint64_t log_size, uint64_t first_size,
    uint64_t second_size) {
  if (second_size > log_size) {
    return absl::OutOfRangeError(absl::StrCat("tree size ", second_size,
                                              " is beyond the log's ", log_size,
                                              " entries"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                   merkle::ConsistencyProof(nodes, first_size, second_size));
  v1::ConsistencyProof proof;
  proof.set_first_size(first_size);
  proof.set_second_size(second_size);
  for (std::string& h : hashes) proof.add_hashes(std::move(h));
  return proof;
}

absl::Status CheckReview(const std::optional<v1::OverrideReview>& disclosing,
                         const std::optional<v1::OverrideReview>& involved,
                         OverrideReviewChange* change) {
  if (!disclosing.has_value()) {
    if (involved.has_value()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "override ", change->override_sequence, " disclosed the data of \"",
          ActingParty(involved->entry().actor()),
          "\"; only an auditor whose scope covers that agency reviews it"));
    }
    return absl::NotFoundError(absl::StrCat("no override with sequence ",
                                            change->override_sequence,
                                            " in your scope"));
  }
  if (disclosing->outcome() == v1::OverrideReview::OUTCOME_JUSTIFIED ||
      disclosing->outcome() == v1::OverrideReview::OUTCOME_NOT_JUSTIFIED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "override ", change->override_sequence, " was already reviewed ",
        v1::OverrideReview::Outcome_Name(disclosing->outcome()), " by ",
        disclosing->reviewer()));
  }
  change->entry.set_counterpart(ActingParty(disclosing->entry().actor()));
  return absl::OkStatus();
}

}  // namespace liaison
