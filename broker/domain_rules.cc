#include "broker/domain_rules.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/notices.h"
#include "broker/referral_lifecycle.h"

namespace liaison {

absl::Status DomainRules::ApplyRecipientChange(const v1::ReferralEvent& event,
                                               v1::Referral* referral) const {
  if (absl::Status s = CheckRecipientTransition(referral->status(),
                                                event.status(), event.detail());
      !s.ok()) {
    return s;
  }
  referral->set_status(event.status());
  *referral->add_history() = event;
  return absl::OkStatus();
}

std::optional<v1::ReferralEvent> DomainRules::ApplyDelivery(
    const std::string& agency_id, absl::Time now,
    v1::Referral* referral) const {
  if (referral->status() != v1::REFERRAL_STATUS_SENT) return std::nullopt;
  referral->set_status(v1::REFERRAL_STATUS_DELIVERED);
  v1::ReferralEvent* event = referral->add_history();
  event->set_status(v1::REFERRAL_STATUS_DELIVERED);
  event->mutable_at()->set_seconds(absl::ToUnixSeconds(now));
  // The broker records the delivery; which of the recipient's
  // professionals acknowledged it is in the log, not fed back.
  event->set_by_agency_id(agency_id);
  return *event;
}

v1::InboxMessage DomainRules::NonDeliveryNotice(
    const std::string& message_id, const std::string& referral_id,
    const std::string& recipient_agency_id, absl::Time now) const {
  return liaison::NonDeliveryNotice(message_id, referral_id,
                                    recipient_agency_id, now);
}

v1::InboxMessage DomainRules::EscalationNotice(const v1::Referral& referral,
                                               absl::Time deadline,
                                               absl::Time now) const {
  return liaison::EscalationNotice(referral, deadline, now);
}

v1::InboxMessage DomainRules::OverdueReviewNotice(uint64_t sequence,
                                                  absl::Time review_by,
                                                  absl::Time now) const {
  return liaison::OverdueReviewNotice(sequence, review_by, now);
}

StoreRules::RecallPlan DomainRules::PlanRecalls(
    const v1::Consent& consent, const v1::LogEntry& withdrawal,
    const std::vector<std::pair<std::string, std::vector<std::string>>>&
        uses_by_agency,
    absl::Time at) const {
  RecallPlan plan;
  plan.withdrawal = withdrawal;
  if (!uses_by_agency.empty()) {
    std::vector<std::string> parts;
    for (const auto& [agency, ids] : uses_by_agency) {
      parts.push_back(
          absl::StrCat(agency, " (", ids.size(),
                       ids.size() == 1 ? " message)" : " messages)"));
    }
    plan.withdrawal.set_reason(absl::StrCat(withdrawal.reason(),
                                            "; recall notices sent to ",
                                            absl::StrJoin(parts, ", ")));
  }
  for (const auto& [agency, ids] : uses_by_agency) {
    Recall& recall = plan.recalls.emplace_back();
    recall.agency_id = agency;
    recall.notice = ConsentRecallNotice(consent, ids, at);
    recall.entry = withdrawal;
    recall.entry.set_counterpart(agency);
    recall.entry.set_message_id(recall.notice.message_id());
    recall.entry.set_reason(
        absl::StrCat("consent recall notice for ", absl::StrJoin(ids, ", ")));
  }
  return plan;
}

std::optional<StoreRules::TakeBackPlan> DomainRules::PlanTakeBack(
    const ReferralTakeBack& request, const std::string& subject_pseudonym,
    const std::string& message_id, bool acknowledged, bool shown,
    v1::Referral* referral) const {
  if (referral->status() == v1::REFERRAL_STATUS_WITHDRAWN ||
      referral->status() == v1::REFERRAL_STATUS_RECALLED) {
    return std::nullopt;
  }
  TakeBackPlan plan;
  const v1::ReferralStatus status = acknowledged
                                        ? v1::REFERRAL_STATUS_RECALLED
                                        : v1::REFERRAL_STATUS_WITHDRAWN;
  plan.event.set_status(status);
  plan.event.mutable_at()->set_seconds(absl::ToUnixSeconds(request.at));
  plan.event.set_by_agency_id(request.agency_id);
  *plan.event.mutable_by() = request.by;
  plan.event.set_recall_reason(request.reason);
  referral->set_status(status);
  *referral->add_history() = plan.event;

  plan.entry = request.entry;
  plan.entry.set_kind(acknowledged ? v1::ENTRY_KIND_REFERRAL_RECALLED
                                   : v1::ENTRY_KIND_REFERRAL_WITHDRAWN);
  plan.entry.set_counterpart(referral->recipient_agency_id());
  plan.entry.set_case_id(referral->case_id());
  plan.entry.set_message_id(referral->referral_id());
  plan.entry.set_subject_pseudonym(subject_pseudonym);
  plan.entry.set_allowed(true);
  std::string reason =
      absl::StrCat(acknowledged ? "referral recalled" : "referral withdrawn",
                   " by its "
                   "sender: ",
                   RecallReasonWord(request.reason));
  if (acknowledged || shown) {
    plan.notice = ReferralRecallNotice(*referral, message_id, !acknowledged,
                                       request.reason, request.at);
    absl::StrAppend(&reason, "; recall notice ", plan.notice->message_id(),
                    " sent to the recipient for message ", message_id);
  }
  plan.entry.set_reason(std::move(reason));
  return plan;
}

absl::Status DomainRules::CheckRetry(absl::string_view key,
                                     absl::string_view stored_digest,
                                     absl::string_view digest,
                                     absl::string_view what) const {
  if (stored_digest == digest) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(
      "idempotency key \"", key, "\" was already used for a different ", what,
      "; use a new key for a new ", what));
}

const StoreRules& BrokerRules() {
  static const DomainRules* const rules = new DomainRules();
  return *rules;
}

}  // namespace liaison
