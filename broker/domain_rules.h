// The broker's rules as every store backend applies them inside its
// commits (StoreRules in broker/store/store.h): the referral lifecycle,
// the broker's own notices, what a consent recall logs and what a retry
// under a used idempotency key gets. Written once,
// here, above the stores.
#ifndef LIAISON_BROKER_DOMAIN_RULES_H_
#define LIAISON_BROKER_DOMAIN_RULES_H_

#include "broker/store/store.h"

namespace liaison {

class DomainRules final : public StoreRules {
 public:
  absl::Status ApplyRecipientChange(const v1::ReferralEvent& event,
                                    v1::Referral* referral) const override;
  std::optional<v1::ReferralEvent> ApplyDelivery(
      const std::string& agency_id, absl::Time now,
      v1::Referral* referral) const override;
  v1::InboxMessage NonDeliveryNotice(const std::string& message_id,
                                     const std::string& referral_id,
                                     const std::string& recipient_agency_id,
                                     absl::Time now) const override;
  v1::InboxMessage EscalationNotice(const v1::Referral& referral,
                                    absl::Time deadline,
                                    absl::Time now) const override;
  v1::InboxMessage OverdueReviewNotice(uint64_t sequence, absl::Time review_by,
                                       absl::Time now) const override;
  RecallPlan PlanRecalls(
      const v1::Consent& consent, const v1::LogEntry& withdrawal,
      const std::vector<std::pair<std::string, std::vector<std::string>>>&
          uses_by_agency,
      absl::Time at) const override;
  std::optional<TakeBackPlan> PlanTakeBack(
      const ReferralTakeBack& request, const std::string& subject_pseudonym,
      const std::string& message_id, bool acknowledged, bool shown,
      v1::Referral* referral) const override;
  absl::Status CheckRetry(absl::string_view key,
                          absl::string_view stored_digest,
                          absl::string_view digest,
                          absl::string_view what) const override;
};

// One shared instance: the rules hold no state.
const StoreRules& BrokerRules();

}  // namespace liaison

#endif  // LIAISON_BROKER_DOMAIN_RULES_H_
