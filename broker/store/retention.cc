#include "broker/store/retention.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/log/message_util.h"
#include "liaison/v1/common.pb.h"
#include "liaison/v1/exchange.pb.h"

namespace liaison {

const char* HeldKindName(HeldKind kind) {
  switch (kind) {
    case HeldKind::kInboxMessage:
      return "inbox_message";
    case HeldKind::kSummary:
      return "summary";
    case HeldKind::kReferral:
      return "referral";
    case HeldKind::kSummaryRequest:
      return "summary_request";
    case HeldKind::kConsentEvidence:
      return "consent_evidence";
    case HeldKind::kOverrideStatement:
      return "override_statement";
  }
  return "unknown";
}

void KeepRouting(google::protobuf::Message* message) {
  const google::protobuf::Descriptor* type = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = type->field(i);
    if (!f->options().GetExtension(v1::routing)) {
      reflection->ClearField(message, f);
    }
  }
  reflection->MutableUnknownFields(message)->Clear();
}

absl::StatusOr<std::string> PurgedBytes(absl::string_view bytes,
                                        google::protobuf::Message* message,
                                        absl::string_view what) {
  message->Clear();
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("a stored ", what, " does not parse; not purged"));
  }
  KeepRouting(message);
  return message->SerializeAsString();
}

void PurgeReferral(v1::Referral* referral) {
  google::protobuf::RepeatedPtrField<v1::ReferralEvent> history;
  history.Swap(referral->mutable_history());
  KeepRouting(referral);
  for (v1::ReferralEvent& event : history) KeepRouting(&event);
  history.Swap(referral->mutable_history());
}

void PurgeConsentEvidence(v1::Consent* consent) {
  consent->clear_evidence();
  consent->clear_grantor();
  consent->clear_grantor_relation();
  consent->clear_subject();
  consent->clear_withdrawal_reason();
}

v1::LogEntry RecallPurgeEntry(absl::Time now, const v1::Notice& recall,
                              const std::string& agency_id) {
  v1::LogEntry e;
  SetTime(e.mutable_time(), now);
  e.set_kind(v1::ENTRY_KIND_PURGE);
  e.set_actor("liaison://broker/recall");
  e.set_counterpart(agency_id);
  e.set_consent_id(recall.consent_id());
  e.set_allowed(true);
  return e;
}

bool IsRecall(const v1::InboxMessage& message) {
  return message.has_notice() &&
         message.notice().kind() == v1::Notice::KIND_CONSENT_RECALL;
}

namespace {

// Adds one PurgeCount per kind purged to `entry`; the total, and the
// counts in words.
int64_t CountsInto(const PurgeCounts& counts, v1::LogEntry* entry,
                   std::vector<std::string>* words) {
  int64_t total = 0;
  for (int k = 0; k < kHeldKinds; ++k) {
    if (counts.n[k] == 0) continue;
    const HeldKind kind = static_cast<HeldKind>(k);
    v1::PurgeCount* c = entry->add_purged();
    c->set_kind(HeldKindName(kind));
    c->set_count(static_cast<uint64_t>(counts.n[k]));
    words->push_back(absl::StrCat(counts.n[k], " ", HeldKindName(kind)));
    total += counts.n[k];
  }
  return total;
}

}  // namespace

int64_t AddPurgeCounts(const PurgeCounts& counts, v1::LogEntry* entry) {
  std::vector<std::string> words;
  const int64_t total = CountsInto(counts, entry, &words);
  entry->set_reason(
      absl::StrCat("retention ended: purged ",
                   words.empty() ? "nothing" : absl::StrJoin(words, ", ")));
  return total;
}

void NotePurged(const PurgeCounts& counts, v1::LogEntry* entry) {
  std::vector<std::string> words;
  if (CountsInto(counts, entry, &words) == 0) return;
  entry->set_reason(absl::StrCat(entry->reason(), "; the broker purged ",
                                 absl::StrJoin(words, ", ")));
}

}  // namespace liaison
