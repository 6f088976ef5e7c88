// What a purge keeps of each kind of held content, written once for every
// backend (DESIGN.md rule 10): the fields marked as routing metadata (ids,
// states, times) and nothing else, and the PURGE entry's counts.
#ifndef LIAISON_BROKER_STORE_RETENTION_H_
#define LIAISON_BROKER_STORE_RETENTION_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "broker/store/store.h"
#include "liaison/v1/exchange.pb.h"
#include "liaison/v1/log.pb.h"

namespace liaison {

// The kind's name in PURGE entries and policy files, e.g. "inbox_message".
const char* HeldKindName(HeldKind kind);

// Clears every field of `message` that is not marked (routing) = true,
// recursing into the routing fields that are messages.
void KeepRouting(google::protobuf::Message* message);

// `bytes`, a serialized message of `message`'s type, with only its
// routing fields; `what` names it in the error when it does not parse.
absl::StatusOr<std::string> PurgedBytes(absl::string_view bytes,
                                        google::protobuf::Message* message,
                                        absl::string_view what);

// A referral whose case closed: its routing fields, and its history with
// each event's routing fields (status, time, agency) only.
void PurgeReferral(v1::Referral* referral);

// A consent past its end without its evidence and the identities in it:
// its terms, parties and times stay, for audits of what it allowed.
void PurgeConsentEvidence(v1::Consent* consent);

// The start of the PURGE entry for the purge, at `now`, of the broker's
// copies of what `recall` (a CONSENT_RECALL notice) recalled from
// `agency_id`, which acknowledged it.
v1::LogEntry RecallPurgeEntry(absl::Time now, const v1::Notice& recall,
                              const std::string& agency_id);

// True for an inbox message that is a consent recall notice.
bool IsRecall(const v1::InboxMessage& message);

// Adds `counts` to a PURGE entry: one PurgeCount per kind purged and a
// reason listing them. The total purged, 0 when nothing was.
int64_t AddPurgeCounts(const PurgeCounts& counts, v1::LogEntry* entry);

// Adds `counts` to an entry that records something else (a referral
// taken back) and says in its reason what was purged with it.
void NotePurged(const PurgeCounts& counts, v1::LogEntry* entry);

}  // namespace liaison

#endif  // LIAISON_BROKER_STORE_RETENTION_H_
