// What every backend answers auditors the same way, written once: proofs
// checked against the log's size, and whether an override may be reviewed
// (DESIGN.md rule 6). A backend finds the rows; these decide.
#ifndef LIAISON_BROKER_STORE_LOG_READS_H_
#define LIAISON_BROKER_STORE_LOG_READS_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/log/merkle.h"
#include "broker/store/store.h"
#include "liaison/v1/log.pb.h"

namespace liaison {

// OUT_OF_RANGE when `size` is beyond `log_size` or `sequence` not below it.
absl::StatusOr<v1::InclusionProof> ProveInclusionIn(
    const merkle::NodeReader& nodes, uint64_t log_size, uint64_t sequence,
    uint64_t size);
// OUT_OF_RANGE unless 0 < first_size <= second_size <= log_size.
absl::StatusOr<v1::ConsistencyProof> ProveConsistencyIn(
    const merkle::NodeReader& nodes, uint64_t log_size, uint64_t first_size,
    uint64_t second_size);

// Whether `change` may be recorded, given the override found with the
// reviewer's scope over its disclosing agency (`disclosing`) and over
// either of its parties (`involved`); names, as the review entry's
// counterpart, the agency whose data left.
absl::Status CheckReview(const std::optional<v1::OverrideReview>& disclosing,
                         const std::optional<v1::OverrideReview>& involved,
                         OverrideReviewChange* change);

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_LOG_READS_H_
