#include "broker/notices.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "broker/basics/time_format.h"
#include "broker/pseudonym.h"

namespace liaison {
namespace {

v1::InboxMessage NewNotice(absl::Time now) {
  v1::InboxMessage m;
  m.set_message_id(NewId("msg-"));
  m.mutable_enqueued_at()->set_seconds(absl::ToUnixSeconds(now));
  return m;
}

}  // namespace

v1::InboxMessage NonDeliveryNotice(const std::string& message_id,
                                   const std::string& referral_id,
                                   const std::string& recipient_agency_id,
                                   absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  m.set_referral_id(referral_id);
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_NON_DELIVERY);
  n->add_message_ids(message_id);
  n->set_referral_id(referral_id);
  n->set_text(absl::StrCat(
      "message ", message_id, referral_id.empty() ? "" : " (referral ",
      referral_id, referral_id.empty() ? "" : ")", " to agency \"",
      recipient_agency_id, "\" expired unacknowledged at ", Rfc3339(now),
      "; it was not delivered. Contact the agency by another channel or "
      "send again."));
  return m;
}

v1::InboxMessage EscalationNotice(const v1::Referral& referral,
                                  absl::Time deadline, absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  m.set_referral_id(referral.referral_id());
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_ESCALATION);
  n->set_referral_id(referral.referral_id());
  n->set_text(absl::StrCat(
      v1::Urgency_Name(referral.urgency()), " referral ",
      referral.referral_id(), " from \"", referral.sender_agency_id(),
      "\" to \"", referral.recipient_agency_id(),
      "\" was not acknowledged by its deadline ", Rfc3339(deadline),
      "; follow it up directly with the recipient."));
  return m;
}

v1::InboxMessage ConsentRecallNotice(
    const v1::Consent& consent, const std::vector<std::string>& message_ids,
    absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_CONSENT_RECALL);
  n->set_consent_id(consent.consent_id());
  for (const std::string& id : message_ids) n->add_message_ids(id);
  n->set_text(absl::StrCat(
      consent.refused() ? "refusal " : "consent ", consent.consent_id(),
      " (recorded by \"", consent.recorded_by_agency_id(),
      "\") was withdrawn at ", Rfc3339(now), ". You received ",
      message_ids.size(), message_ids.size() == 1 ? " message" : " messages",
      " under it: ", absl::StrJoin(message_ids, ", "),
      ". Stop using what they disclosed under this consent, and erase or "
      "restrict it as your agency's rules require; nothing more will be "
      "disclosed under it."));
  return m;
}

std::string RecallReasonWord(v1::RecallReason reason) {
  std::string word(
      absl::StripPrefix(v1::RecallReason_Name(reason), "RECALL_REASON_"));
  for (char& c : word) c = c == '_' ? ' ' : absl::ascii_tolower(c);
  return word;
}

v1::InboxMessage ReferralRecallNotice(const v1::Referral& referral,
                                      const std::string& message_id,
                                      bool withdrawn, v1::RecallReason reason,
                                      absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  m.set_referral_id(referral.referral_id());
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_REFERRAL_RECALL);
  n->set_referral_id(referral.referral_id());
  n->add_message_ids(message_id);
  n->set_text(absl::StrCat(
      "referral ", referral.referral_id(), " from \"",
      referral.sender_agency_id(), "\" (message ", message_id, ") was ",
      withdrawn ? "withdrawn" : "recalled", " by its sender at ", Rfc3339(now),
      " (", RecallReasonWord(reason),
      "). Do not act on it; erase what your system holds of it as your "
      "agency's rules require. The broker no longer holds its content."));
  return m;
}

v1::InboxMessage OverdueReviewNotice(uint64_t sequence, absl::Time review_by,
                                     absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_OVERRIDE_REVIEW_OVERDUE);
  n->set_log_sequence(sequence);
  n->set_text(absl::StrCat(
      "For the privacy officer: the override at disclosure log sequence ",
      sequence, ", under which data left your agency, was due for review by ",
      Rfc3339(review_by),
      " and has not been reviewed. Ask your auditors to review it (liaison "
      "audit overrides, audit review ",
      sequence, ")."));
  return m;
}

v1::InboxMessage OverrideAlertNotice(
    const v1::Agency& source, const std::string& recipient_agency_id,
    const v1::Justification& justification,
    const std::vector<std::string>& message_ids, const std::string& referral_id,
    absl::Time now) {
  v1::InboxMessage m = NewNotice(now);
  m.set_referral_id(referral_id);
  v1::Notice* n = m.mutable_notice();
  n->set_kind(v1::Notice::KIND_OVERRIDE_ALERT);
  n->set_referral_id(referral_id);
  for (const std::string& id : message_ids) n->add_message_ids(id);
  n->set_text(absl::StrCat(
      "For the privacy officer",
      source.privacy_officer_contact().empty()
          ? ""
          : absl::StrCat(" (", source.privacy_officer_contact(), ")"),
      ": data left \"", source.id(), "\" for \"", recipient_agency_id,
      "\" without consent, under an override (",
      v1::OverrideCategory_Name(justification.category()), ", ",
      justification.legal_provision(), ") assessed by ",
      justification.assessor().id(),
      justification.approver().id().empty()
          ? ""
          : absl::StrCat(" and approved by ", justification.approver().id()),
      ", at ", Rfc3339(now), ". Messages: ", absl::StrJoin(message_ids, ", "),
      ". It is in the auditors' override review queue."));
  return m;
}

}  // namespace liaison
