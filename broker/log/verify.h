// Offline verification of a disclosure-log export (the JSON Lines file of
// LogExportHeader and LogExportLine messages, proto/liaison/v1/log.proto):
// the head's signature, every line against its leaf, and the Merkle root or
// inclusion proofs against the signed head. Needs no broker and no network,
// so an auditor can run it on a copy of the file anywhere.
#ifndef LIAISON_BROKER_LOG_VERIFY_H_
#define LIAISON_BROKER_LOG_VERIFY_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "liaison/v1/log.pb.h"

namespace liaison::audit {

// LogExportHeader.format of the files this code reads and writes.
inline constexpr absl::string_view kLogExportFormat = "liaison-log-export/1";

// Writes `message` as one line of an export file: compact protobuf JSON with
// the .proto field names, then "\n". The header and every line go through
// here so that writers and this verifier agree on the format. INTERNAL when
// the message cannot be printed; DATA_LOSS when the stream fails.
absl::Status WriteExportLine(std::ostream& out,
                             const google::protobuf::Message& message);

// A tree head saved earlier from a file holding a liaison.v1.TreeHead in
// protobuf JSON (as `liaison audit tree-head --out` writes it) or a
// liaison.v1.GetTreeHeadResponse, whose public_key is then ignored: a head
// is only trusted once it verifies with the key the caller trusts. NOT_FOUND
// or PERMISSION_DENIED when unreadable; INVALID_ARGUMENT naming the file
// when it is neither.
absl::StatusOr<v1::TreeHead> ReadTreeHeadFile(const std::string& path);

struct VerifyOptions {
  // The export file. Required.
  std::string export_path;
  // The raw 32-byte Ed25519 log key the auditor trusts, e.g. from
  // ReadLogPublicKeyFile. Unset: the copy in the export's header is used,
  // which shows only that the file agrees with itself, not that the broker
  // signed it (VerifyReport::key_pinned is then false).
  std::optional<std::string> public_key;
  // Heads the auditor kept from earlier, e.g. from ReadTreeHeadFile. Each
  // must be signed by the same key. A head larger than the export's means
  // the log was truncated or rolled back; for a complete export, the first
  // tree_size entries must also hash to the head's root, or history was
  // rewritten. Default none.
  std::vector<v1::TreeHead> known_heads;
};

// What a known head was checked for.
struct KnownHeadCheck {
  v1::TreeHead head;
  // True when the export was shown to extend the head: a complete export
  // reproduces its root, or the head has the export's own size and root.
  // False when only its signature and size could be checked (a partial
  // export holds too few entries to recompute an older root).
  bool consistency_shown = false;
};

// What a successful verification established.
struct VerifyReport {
  // Lines verified.
  uint64_t entries = 0;
  // The export's head, its signature verified.
  v1::TreeHead head;
  // True when the export holds every entry below head.tree_size.
  bool complete = false;
  // True when the signature was checked with VerifyOptions::public_key,
  // false when with the export's own copy of the key.
  bool key_pinned = false;
  // Every known head, in the order given.
  std::vector<KnownHeadCheck> known_heads;
  // What the verification could not establish or found unusual, one
  // sentence each, for the auditor to read.
  std::vector<std::string> notes;
};

// Verifies the export at options.export_path, reading it one line at a
// time (memory grows with the log's depth, not its length). Stops at the
// first problem. Errors:
//   FAILED_PRECONDITION: the export does not verify. The message names
//     "FILE:LINE: sequence N: what is wrong" where one line is at fault, N
//     being the first bad sequence (e.g. the first missing one), or
//     "FILE: ..." for a problem of the whole file (root mismatch, a known
//     head that does not verify or that the export does not extend).
//   NOT_FOUND, PERMISSION_DENIED: the export cannot be read.
//   INVALID_ARGUMENT: the file is not an export of this format, or a line
//     is not protobuf JSON of the expected message ("FILE:LINE: ...").
absl::StatusOr<VerifyReport> VerifyExport(const VerifyOptions& options);

}  // namespace liaison::audit

#endif  // LIAISON_BROKER_LOG_VERIFY_H_
