#include "broker/exchange_support.h"

#include "absl/strings/str_cat.h"
#include "broker/notices.h"

namespace liaison::exchange {

v1::Level ViewLevel(const policy::PolicySet& set, absl::string_view name) {
  const v1::EnvelopeRules* rules = set.FindEnvelopeRules(name);
  return rules == nullptr ? v1::LEVEL_NONE : rules->view_level();
}

void AddConsentFacts(const ConsentFacts& facts, policy::DisclosureQuery* q) {
  if (facts.consent.has_value()) {
    q->consent = facts.consent->consent;
    q->consent_subject_pseudonym = facts.consent->subject_pseudonym;
  }
  q->refusals = facts.refusals;
}

void AddOverrideAlert(const Registry& registry, const v1::LogEntry& entry,
                      const std::string& source_agency_id,
                      const std::string& recipient_agency_id,
                      const std::vector<std::string>& message_ids,
                      const std::string& referral_id, absl::Time now,
                      std::vector<QueuedNotice>* notices) {
  if (entry.kind() != v1::ENTRY_KIND_OVERRIDE || !entry.allowed()) return;
  v1::Agency source;
  if (std::optional<v1::Agency> found = registry.FindAgency(source_agency_id)) {
    source = *std::move(found);
  } else {
    source.set_id(source_agency_id);
  }
  notices->push_back(
      {source_agency_id,
       OverrideAlertNotice(source, recipient_agency_id, entry.justification(),
                           message_ids, referral_id, now)});
}

void FinishDenied(Store* store, grpc::ServerUnaryReactor* reactor,
                  v1::LogEntry entry) {
  const std::string why = entry.reason();
  store->AppendLog(
      std::move(entry), [reactor, why](absl::StatusOr<uint64_t> seq) {
        reactor->Finish(ToGrpcStatus(
            seq.ok() ? absl::PermissionDeniedError(absl::StrCat(
                           "disclosure denied (log entry ", *seq, "): ", why))
                     : seq.status()));
      });
}

}  // namespace liaison::exchange
